"""``checked_convert`` (the speculative pass's one-cast conversion) must accept exactly
what the inference checks accept and produce exactly what ``convert`` produces;
otherwise a file typed from a sample could differ from one typed over the whole file."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from lakeport.formats.csv_types import CHECKS, TYPES, Misfit, arrow_type, checked_convert, convert

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


def test_strings_pass_through() -> None:
    array = pa.array(["09001", None, "x"], pa.string())
    assert checked_convert(array, "string") is array
