"""``checked_convert`` (the speculative pass's one-cast conversion) must accept exactly
what the inference checks accept and produce exactly what ``convert`` produces;
otherwise a file typed from a sample could differ from one typed over the whole file."""

from __future__ import annotations

import random
import re

import pyarrow as pa
import pytest

from lakeport.formats.csv_types import (
    CHECKS,
    MAX_DOUBLE_DIGITS,
    TYPES,
    Misfit,
    _loses_precision,
    arrow_type,
    checked_convert,
    convert,
)

POOL = [
    "1", "-2", "09001", "0", "0x1F", "1.5", "1e3", "NaN", "nan", "inf", "true", "FALSE",
    "2024-01-02", "2024-01-02T03:04:05", "2024-01-02 03:04:05.123456",
    "2024-01-02T03:04:05Z", "2024-01-02T03:04:05+02:00", "abc", "",
    "99999999999999999999", "-99999999999999999999999", "82544000000000707.52", "+5", " 7",
    None,
]  # fmt: skip


@pytest.mark.parametrize("name", list(TYPES))
def test_accepts_what_the_checks_accept_and_converts_alike(name: str) -> None:
    rng = random.Random(name)
    for _ in range(1500):
        array = pa.array([rng.choice(POOL) for _ in range(rng.randint(1, 6))], pa.string())
        values = array.drop_null()
        expected = len(values) == 0 or CHECKS[name](values)
        try:
            got = checked_convert(array, name)
        except Misfit:
            assert not expected, array
            continue
        assert expected, array
        assert got.equals(convert(array, arrow_type(name))), array


@pytest.mark.parametrize("name", list(TYPES))
def test_a_row_group_in_chunks_converts_as_its_batches_do(name: str) -> None:
    """The staging lanes convert a whole row group (a chunked column) at once."""
    rng = random.Random(f"chunks-{name}")
    for _ in range(500):
        chunks = [
            pa.array([rng.choice(POOL) for _ in range(rng.randint(0, 5))], pa.string())
            for _ in range(rng.randint(1, 4))
        ]
        try:
            expected = [checked_convert(chunk, name) for chunk in chunks]
        except Misfit:
            with pytest.raises(Misfit):
                checked_convert(pa.chunked_array(chunks, pa.string()), name)
            continue
        got = checked_convert(pa.chunked_array(chunks, pa.string()), name)
        assert got.to_pylist() == [v for e in expected for v in e.to_pylist()], chunks
        assert got.type == arrow_type(name)


def test_strings_pass_through() -> None:
    array = pa.array(["09001", None, "x"], pa.string())
    assert checked_convert(array, "string") is array


def _loses_precision_reference(values: list[str]) -> bool:
    """The rule stated plainly: more than 17 mantissa digits once the exponent, every
    non-digit and the zeros at both ends are gone."""
    for value in values:
        mantissa = re.sub(r"[^0-9]", "", re.sub(r"[eE].*$", "", value))
        if len(value) > MAX_DOUBLE_DIGITS and len(mantissa.strip("0")) > MAX_DOUBLE_DIGITS:
            return True
    return False


def _number_text(rng: random.Random) -> str:
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 24)))
    zeros = "0" * rng.randint(0, 4)
    text = rng.choice(["", "0", zeros]) + digits + rng.choice(["", zeros])
    if rng.random() < 0.6:
        point = rng.randint(0, len(text))
        text = text[:point] + "." + text[point:]
    if rng.random() < 0.3:
        text = text + rng.choice("eE") + rng.choice(["", "-", "+"]) + str(rng.randint(0, 300))
    return rng.choice(["", "-", "+"]) + text


def test_precision_rule_matches_its_plain_statement() -> None:
    """The byte-wise trims that replaced a regular expression (for speed) decide exactly
    as the rule reads, on numbers of every shape around the 17-digit limit."""
    rng = random.Random(17)
    for _ in range(3000):
        values = [_number_text(rng) for _ in range(rng.randint(1, 4))]
        expected = _loses_precision_reference(values)
        assert _loses_precision(pa.array(values, pa.string())) == expected, values
    assert _loses_precision(pa.array(["-21.481018000000006"])) is False  # 17 digits
    assert _loses_precision(pa.array(["0.000123456789012345678"])) is True  # 18 digits
    assert _loses_precision(pa.array(["1234567890123456789000000.0"])) is True
    assert _loses_precision(pa.array(["1.0000000000000000000000e5"])) is False
