"""Column types of delimited text: those a pass over the whole file would choose.

Pass 1 reads every column as text and narrows, per column, a set of candidate types
with vectorised checks on each batch; pass 2 converts each batch with *the same*
functions that validated it, so a type chosen in pass 1 cannot fail in pass 2.

Candidates form chains of nested value sets, tried most specific first:

* numbers: ``long`` (int64) ⊂ ``decimal(38,0)`` (integers too big for int64) ⊂ ``double``
* time: ``date`` (``YYYY-MM-DD``) ⊂ ``timestamp`` (ISO 8601, no zone, <= microseconds)
* ``timestamptz`` (ISO 8601 with ``Z`` or an offset; stored as UTC)
* ``boolean`` (``true``/``false``, any case)

A file may instead be typed from a sample and then converted with
:func:`checked_convert`, which accepts exactly what the checks accept; any value the
sample's choice does not fit is reported (:class:`Misfit`) and the file is typed in full.

Whatever no candidate accepts is a ``string``. Ambiguity resolves to string: a number
with a leading zero (``09001``) is an identifier, not 9001; hexadecimal, thousands
separators and padded numbers are text; a column mixing zoned and naive timestamps is
text. ``NaN`` (any case) and infinities are double values, and ``NaN`` becomes null once
a column is known to be double. An all-null column is a string column.

Fractional numbers are ``double``, not ``decimal``: a decimal's precision and scale would
follow the data (``decimal(5,2)`` today, ``decimal(6,2)`` tomorrow), so consecutive files
of one feed would drift; only integers beyond int64 use a fixed ``decimal(38,0)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

#: One column of text or values: a batch's array or a row group's chunked array.
Column: TypeAlias = pa.Array | pa.ChunkedArray
Checker = Callable[[Column], bool]

DECIMAL_INT = pa.decimal128(38, 0)

#: candidate name -> Arrow type, in chain order (most specific first within a chain).
TYPES: dict[str, pa.DataType] = {
    "boolean": pa.bool_(),
    "long": pa.int64(),
    "decimal": DECIMAL_INT,
    "double": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
}
CHAINS: tuple[tuple[str, ...], ...] = (
    ("boolean",),
    ("long", "decimal", "double"),
    ("date", "timestamp"),
    ("timestamptz",),
)
#: When several candidates survive the whole file (only for all-null columns, or a
#: chain's members), the first in this order wins.
PRIORITY: tuple[str, ...] = (
    "boolean",
    "long",
    "decimal",
    "double",
    "date",
    "timestamp",
    "timestamptz",
)

MAX_DOUBLE_DIGITS = 17
PROBE_VALUES = 256
_LEADING_ZERO = r"^[+-]?0[0-9xX]"
_INTEGER = r"^-?[0-9]+$"


def _casts(array: Column, target: pa.DataType) -> bool:
    try:
        pc.cast(array, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _any(mask: Column) -> bool:
    return bool(pc.any(mask).as_py())


def _all(mask: Column) -> bool:
    return bool(pc.all(mask).as_py() is not False)


def _is_boolean(array: Column) -> bool:
    return _all(pc.is_in(pc.utf8_lower(array), value_set=pa.array(["true", "false"])))


def _leading_zero(array: Column) -> bool:
    """Any ``0``-prefixed number (``09001``, ``-01``, ``0x1F``, ``00.5``)? Identifiers,
    not numbers. Only values starting with ``0``/``+0``/``-0`` reach the regex."""
    starts = pc.or_(
        pc.starts_with(array, "0"), pc.or_(pc.starts_with(array, "-0"), pc.starts_with(array, "+0"))
    )
    if not _any(starts):
        return False
    return _any(pc.match_substring_regex(array.filter(starts), _LEADING_ZERO))


def _is_long(array: Column) -> bool:
    # int64 casting accepts exactly optional '-' plus digits, and also hex ('0x..'),
    # which the leading-zero rule rejects
    return _casts(array, pa.int64()) and not _leading_zero(array)


def _is_decimal(array: Column) -> bool:
    return (
        _all(pc.match_substring_regex(array, _INTEGER))
        and not _leading_zero(array)
        and _casts(array, DECIMAL_INT)
    )


def _is_double(array: Column) -> bool:
    return _casts(array, pa.float64()) and not _leading_zero(array) and not _loses_precision(array)


def _loses_precision(array: Column) -> bool:
    """Whether a value has more significant digits than a double keeps (17): such a
    column stays text rather than silently rounding (``82544000000000707.52``).

    Significant digits are the mantissa's digits without leading and trailing zeros.
    Without an exponent that is the value with signs, zeros and points trimmed from
    both ends, less one for an inner point: byte-wise finds and trims, several times
    cheaper than a regular expression. With an exponent the same count is an upper
    bound (the trim stops at the ``e``, so the exponent's characters count too), so
    only values it puts above 17 get the exact look, which for those with an exponent
    is a regular expression. Lengths are in bytes: a double's text is ASCII, and a
    non-ASCII value fails the double cast whatever this says.
    """
    long_values = array.filter(pc.greater(pc.binary_length(array), MAX_DOUBLE_DIGITS))
    if len(long_values) == 0:
        return False
    inner = pc.ascii_trim(long_values, "+-0.")
    points = pc.cast(_contains(inner, "."), pa.int32())
    at_most = pc.greater(pc.subtract(pc.binary_length(inner), points), MAX_DOUBLE_DIGITS)
    if not _any(at_most):
        return False
    suspects = long_values.filter(at_most)
    exponent = pc.or_(_contains(suspects, "e"), _contains(suspects, "E"))
    if not _all(exponent):
        return True  # a value without an exponent: its count is exact
    mantissa = pc.replace_substring_regex(suspects, r"[eE].*$|[^0-9]", "")
    return _any(pc.greater(pc.binary_length(pc.ascii_trim(mantissa, "0")), MAX_DOUBLE_DIGITS))


def _contains(array: Column, literal: str) -> Column:
    return pc.greater_equal(pc.find_substring(array, literal), 0)


CHECKS: dict[str, Checker] = {
    "boolean": _is_boolean,
    "long": _is_long,
    "decimal": _is_decimal,
    "double": _is_double,
    "date": lambda a: _casts(a, pa.date32()),
    "timestamp": lambda a: _casts(a, TYPES["timestamp"]),
    "timestamptz": lambda a: _casts(a, TYPES["timestamptz"]),
}


def _passes(candidate: str, values: Column) -> bool:
    """Whether every value fits ``candidate``. A failing cast costs far more than a
    passing one (it reports the bad value), so a small prefix is tried first: most
    candidates are ruled out there, cheaply, in the first batch."""
    check = CHECKS[candidate]
    if len(values) > PROBE_VALUES and not check(values.slice(0, PROBE_VALUES)):
        return False
    return check(values)


class ColumnTyper:
    """The candidate set of one column, narrowed batch by batch."""

    def __init__(self) -> None:
        self.chains: list[list[str]] = [list(chain) for chain in CHAINS]

    @property
    def done(self) -> bool:
        """True once the column can only be a string (no checks left to run)."""
        return not self.chains

    def observe(self, array: Column) -> None:
        """Narrow the candidates with one batch of the column (text, nulls for tokens)."""
        if self.done or array.null_count == len(array):
            return
        values = array.drop_null() if array.null_count else array
        surviving: list[list[str]] = []
        for chain in self.chains:
            while chain and not _passes(chain[0], values):
                chain.pop(0)
            if chain:
                surviving.append(chain)
        self.chains = surviving

    def result(self, seen_values: bool) -> str:
        """The chosen candidate name, or ``"string"``."""
        if not seen_values or self.done:
            return "string"
        heads = {chain[0] for chain in self.chains}
        return next(name for name in PRIORITY if name in heads)


def arrow_type(name: str) -> pa.DataType:
    """Arrow type of a candidate name (``"string"`` included)."""
    return pa.string() if name == "string" else TYPES[name]


def kind_of(arrow: pa.DataType) -> str:
    """The candidate name of an Arrow type :func:`arrow_type` returns."""
    for name, candidate in TYPES.items():
        if arrow.equals(candidate):
            return name
    if pa.types.is_string(arrow):
        return "string"
    raise ValueError(f"{arrow} is not a CSV column type")


def convert(array: Column, target: pa.DataType) -> Column:
    """Convert a text column to ``target`` with the semantics its checks validated."""
    if pa.types.is_string(target):
        return array
    if pa.types.is_boolean(target):
        return pc.equal(pc.utf8_lower(array), "true")
    converted = pc.cast(array, target)
    if pa.types.is_floating(target):
        return _nan_to_null(converted)
    return converted


def _nan_to_null(doubles: Column) -> Column:
    """``NaN`` as null. Looked for first: replacing copies the column, and most double
    columns hold no ``NaN``."""
    nan = pc.is_nan(doubles)
    if not _any(nan):
        return doubles
    return pc.if_else(nan, pa.scalar(None, doubles.type), doubles)


class Misfit(Exception):
    """A value does not fit the type chosen from a sample (speculative conversion)."""


def checked_convert(array: Column, name: str) -> Column:
    """Convert a text column to candidate ``name``, or raise :class:`Misfit`.

    Accepts exactly what ``CHECKS[name]`` accepts and returns what :func:`convert`
    returns, but casts once: the speculative pass (types from a sample) validates and
    converts in one go instead of running the checks and then the conversion.
    """
    target = arrow_type(name)
    if name == "string" or array.null_count == len(array):
        return convert(array, target)
    if name == "boolean":
        if not _is_boolean(array.drop_null()):
            raise Misfit(name)
        return convert(array, target)
    # the checks below skip nulls themselves (no copy of the column without them)
    if name == "decimal" and not _all(pc.match_substring_regex(array, _INTEGER)):
        raise Misfit(name)
    if name in ("long", "decimal", "double") and _leading_zero(array):
        raise Misfit(name)
    if name == "double" and _loses_precision(array):
        raise Misfit(name)
    try:
        converted = pc.cast(array, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise Misfit(name) from exc
    if pa.types.is_floating(target):
        return _nan_to_null(converted)
    return converted
