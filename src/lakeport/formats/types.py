"""Arrow types as Iceberg sees them: names for fingerprints, and what can be stored.

Iceberg has fewer types than Arrow, so every reader maps what it found to a *storable*
Arrow type before it promises a schema (:func:`storable`), and converts each batch to it
(:func:`conform`). The conversions, one row per Arrow type family:

=====================================  ==========================  ============================
source Arrow type                      target                      why / caveat
=====================================  ==========================  ============================
bool                                   bool                        -
int8 / int16 / int32, uint8 / uint16   int32 (``int``)             widening, lossless
int64, uint32                          int64 (``long``)            widening, lossless
uint64                                 int64 if the footer's max   Iceberg has no unsigned
                                       fits, else decimal(20,0)    types; never wraps
float16                                float32 (``float``)         Iceberg has no half float
float32 / float64                      same                        -
decimal(p<=38, s) (32/64/128-bit)      decimal128(p, s)            -
decimal(p>38, s) (256-bit)             string                      Iceberg caps precision at
                                                                   38; text keeps every digit
date32 / date64                        date32                      -
time32 / time64 (any unit)             time64[us]                  Iceberg time is in us;
                                                                   nanoseconds are truncated
timestamp (s/ms/us/ns; INT96)          timestamp[us]               Iceberg stores us;
                                                                   nanoseconds are truncated
timestamp with any time zone           timestamp[us, UTC]          Iceberg timestamptz is an
                                                                   instant; the zone name is
                                                                   dropped, not the instant
string / large_string / string_view    string                      -
binary / large / view / fixed(n)       binary                      ``fixed[n]`` loses n only
uuid extension                         uuid                        -
null (all-null column)                 string                      a column needs a type
dictionary<K, V>                       V (mapped)                  storage detail only
duration                               int64 (count of the unit)   Iceberg has no interval
list / large_list / fixed / view       list<mapped>                -
struct / map                           struct / map, mapped        field names kept
extension (json, geometry, variant..)  its storage type, mapped    the bytes are kept
interval, union, run-end ...           error ``unsupported_type``  no faithful Iceberg type
=====================================  ==========================  ============================
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from lakeport.domain import schema as names
from lakeport.errors import LakeportError

UTC = "UTC"
UINT64_FALLBACK = pa.decimal128(20, 0)


def iceberg_type_name(dt: pa.DataType) -> str:
    """The Iceberg-style name of a *storable* Arrow type (see :func:`storable`)."""
    simple = _simple_name(dt)
    if simple is not None:
        return simple
    if pa.types.is_list(dt) or pa.types.is_large_list(dt) or pa.types.is_fixed_size_list(dt):
        return names.list_type(iceberg_type_name(dt.value_type))
    if pa.types.is_map(dt):
        return names.map_type(iceberg_type_name(dt.key_type), iceberg_type_name(dt.item_type))
    if pa.types.is_struct(dt):
        return names.struct_type([(f.name, iceberg_type_name(f.type)) for f in dt])
    raise LakeportError(
        "unsupported_type", f"type {dt} has no Iceberg equivalent", {"type": str(dt)}
    )


def _simple_name(dt: pa.DataType) -> str | None:
    if isinstance(dt, pa.BaseExtensionType):
        return "uuid" if dt.extension_name == "arrow.uuid" else None
    if pa.types.is_boolean(dt):
        return "boolean"
    if pa.types.is_int8(dt) or pa.types.is_int16(dt) or pa.types.is_int32(dt):
        return "int"
    if pa.types.is_int64(dt):
        return "long"
    if pa.types.is_float32(dt):
        return "float"
    if pa.types.is_float64(dt):
        return "double"
    if pa.types.is_decimal(dt):
        return names.decimal_type(dt.precision, dt.scale)
    if pa.types.is_date(dt):
        return "date"
    if pa.types.is_time(dt):
        return "time"
    if pa.types.is_timestamp(dt):
        return "timestamp" if dt.tz is None else "timestamptz"
    if pa.types.is_string(dt) or pa.types.is_large_string(dt) or pa.types.is_string_view(dt):
        return "string"
    if _is_binary(dt):
        return "binary"
    return None


def _is_binary(dt: pa.DataType) -> bool:
    return bool(
        pa.types.is_binary(dt)
        or pa.types.is_large_binary(dt)
        or pa.types.is_binary_view(dt)
        or pa.types.is_fixed_size_binary(dt)
    )


class Mapper:
    """Maps source types to storable ones, recording each lossy or notable conversion.

    ``uint64_fits`` names top-level columns whose values are known (from Parquet footer
    statistics) to fit in int64; every other uint64 becomes decimal(20,0).
    """

    def __init__(self, uint64_fits: frozenset[str] = frozenset()) -> None:
        self.uint64_fits = uint64_fits
        self.conversions: dict[str, str] = {}

    def storable(self, dt: pa.DataType, column: str) -> pa.DataType:
        """The storable type for a column (``column`` is a dotted path, for messages)."""
        target = self._map(dt, column)
        if not _same(target, dt):
            self.conversions.setdefault(column, f"{dt} -> {target}")
        return target

    def _map(self, dt: pa.DataType, column: str) -> pa.DataType:
        for matches, rule in _RULES:
            if matches(dt):
                return rule(self, dt, column)
        raise LakeportError(
            "unsupported_type",
            f"column {column!r} has type {dt}, which Iceberg cannot store",
            {"column": column, "type": str(dt)},
        )

    def _uint64(self, dt: pa.DataType, column: str) -> pa.DataType:
        return pa.int64() if column in self.uint64_fits else UINT64_FALLBACK

    def _decimal(self, dt: pa.DataType, column: str) -> pa.DataType:
        if dt.precision <= 38:
            return pa.decimal128(dt.precision, dt.scale)
        return pa.string()

    def _timestamp(self, dt: pa.DataType, column: str) -> pa.DataType:
        return pa.timestamp("us", tz=None if dt.tz is None else UTC)

    def _extension(self, dt: pa.DataType, column: str) -> pa.DataType:
        if dt.extension_name == "arrow.uuid":
            return dt
        if dt.extension_name == "arrow.json":
            return pa.string()
        return self.storable(dt.storage_type, column)

    def _list(self, dt: pa.DataType, column: str) -> pa.DataType:
        return pa.list_(self.storable(dt.value_type, column + "[]"))

    def _struct(self, dt: pa.DataType, column: str) -> pa.DataType:
        return pa.struct(
            [pa.field(f.name, self.storable(f.type, f"{column}.{f.name}")) for f in dt]
        )

    def _map_type(self, dt: pa.DataType, column: str) -> pa.DataType:
        key = self.storable(dt.key_type, column + ".key")
        return pa.map_(key, self.storable(dt.item_type, column + ".value"))


def _same(a: pa.DataType, b: pa.DataType) -> bool:
    return bool(a.equals(b))


def _const(target: pa.DataType) -> Callable[[Mapper, pa.DataType, str], pa.DataType]:
    return lambda _m, _dt, _c: target


def _is_small_int(dt: pa.DataType) -> bool:
    return bool(
        pa.types.is_int8(dt)
        or pa.types.is_int16(dt)
        or pa.types.is_int32(dt)
        or pa.types.is_uint8(dt)
        or pa.types.is_uint16(dt)
    )


def _is_list(dt: pa.DataType) -> bool:
    return bool(
        pa.types.is_list(dt)
        or pa.types.is_large_list(dt)
        or pa.types.is_fixed_size_list(dt)
        or pa.types.is_list_view(dt)
        or pa.types.is_large_list_view(dt)
    )


def _is_string(dt: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(dt) or pa.types.is_large_string(dt) or pa.types.is_string_view(dt)
    )


_Rule = tuple[Callable[[pa.DataType], bool], Callable[[Mapper, pa.DataType, str], pa.DataType]]

_RULES: list[_Rule] = [
    (lambda dt: isinstance(dt, pa.BaseExtensionType), Mapper._extension),
    (pa.types.is_dictionary, lambda m, dt, c: m.storable(dt.value_type, c)),
    (pa.types.is_boolean, _const(pa.bool_())),
    (_is_small_int, _const(pa.int32())),
    (lambda dt: pa.types.is_int64(dt) or pa.types.is_uint32(dt), _const(pa.int64())),
    (pa.types.is_uint64, Mapper._uint64),
    (lambda dt: pa.types.is_float16(dt) or pa.types.is_float32(dt), _const(pa.float32())),
    (pa.types.is_float64, _const(pa.float64())),
    (pa.types.is_decimal, Mapper._decimal),
    (pa.types.is_date, _const(pa.date32())),
    (pa.types.is_time, _const(pa.time64("us"))),
    (pa.types.is_timestamp, Mapper._timestamp),
    (_is_string, _const(pa.string())),
    (_is_binary, _const(pa.binary())),
    (pa.types.is_null, _const(pa.string())),
    (pa.types.is_duration, _const(pa.int64())),
    (_is_list, Mapper._list),
    (pa.types.is_struct, Mapper._struct),
    (pa.types.is_map, Mapper._map_type),
]


def conform(array: pa.Array, target: pa.DataType) -> pa.Array:
    """``array`` converted to ``target`` (a type :class:`Mapper` produced for it).

    Sub-microsecond time is truncated (documented above); integer or time *overflow* is
    never allowed, so a value that cannot be represented raises instead of wrapping.
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    source = array.type
    if source.equals(target):
        return array
    if isinstance(source, pa.BaseExtensionType):
        if isinstance(target, pa.BaseExtensionType):
            return pa.ExtensionArray.from_storage(
                target, conform(array.storage, target.storage_type)
            )
        return conform(array.storage, target)
    if pa.types.is_dictionary(source):
        return conform(array.dictionary_decode(), target)
    if pa.types.is_struct(target) and _has_extension(source):
        return _conform_struct(array, target)
    if _is_list(source) and pa.types.is_list(target) and _has_extension(source.value_type):
        return _conform_list(array, target)
    options = pc.CastOptions(target, allow_time_truncate=True)
    return pc.cast(array, options=options)


def _has_extension(dt: pa.DataType) -> bool:
    if isinstance(dt, pa.BaseExtensionType) or pa.types.is_dictionary(dt):
        return True
    if pa.types.is_struct(dt):
        return any(_has_extension(f.type) for f in dt)
    if _is_list(dt):
        return _has_extension(dt.value_type)
    if pa.types.is_map(dt):
        return _has_extension(dt.key_type) or _has_extension(dt.item_type)
    return False


def _conform_struct(array: pa.Array, target: pa.DataType) -> pa.Array:
    children = [conform(array.field(i), target.field(i).type) for i in range(target.num_fields)]
    mask = array.is_null() if array.null_count else None
    return pa.StructArray.from_arrays(children, fields=list(target), mask=mask)


def _conform_list(array: pa.Array, target: pa.DataType) -> pa.Array:
    if not pa.types.is_list(array.type):
        array = pc.cast(array, pa.list_(array.type.value_type))
    values = conform(array.flatten(), target.value_type)
    offsets = pc.subtract(array.offsets, array.offsets[0])
    mask = array.is_null() if array.null_count else None
    return pa.ListArray.from_arrays(offsets, values, type=target, mask=mask)
