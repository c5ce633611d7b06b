import hashlib

import pytest

from lakeport.domain.schema import (
    decimal_type,
    fingerprint,
    is_primitive,
    list_type,
    map_type,
    safe_column_names,
    struct_type,
)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["Name", " Age ", "e-mail"], ["name", "age", "e_mail"]),
        (["", "  ", "x"], ["column_1", "column_2", "x"]),
        (["1st", "2 nd"], ["_1st", "_2_nd"]),
        (["a", "A", "a"], ["a", "a_2", "a_3"]),
        (["a", "a_2", "a"], ["a", "a_2", "a_3"]),
        (["Prénom", "中文"], ["pr_nom", "__"]),
        (["col\x00two", "tab\there"], ["col_two", "tab_here"]),
        (["column_2", ""], ["column_2", "column_2_2"]),
    ],
)
def test_safe_column_names(names, expected):
    assert safe_column_names(names) == expected


def test_safe_names_are_stable_when_a_column_is_appended():
    assert safe_column_names(["a", "A"])[:2] == safe_column_names(["a", "A", "a"])[:2]


def test_fingerprint_is_sha256_of_unit_and_record_separated_pairs():
    fields = [("id", "long"), ("name", "string")]
    payload = b"id\x1flong\x1ename\x1fstring"
    assert fingerprint(fields) == "sha256:" + hashlib.sha256(payload).hexdigest()


def test_fingerprint_is_order_and_type_sensitive():
    a = fingerprint([("a", "long"), ("b", "string")])
    assert a != fingerprint([("b", "string"), ("a", "long")])
    assert a != fingerprint([("a", "int"), ("b", "string")])
    assert fingerprint([]) == "sha256:" + hashlib.sha256(b"").hexdigest()


def test_type_names():
    assert decimal_type(10, 2) == "decimal(10,2)"
    assert list_type("long") == "list<long>"
    assert map_type("string", "int") == "map<string, int>"
    assert struct_type([("a", "int"), ("b", "list<string>")]) == "struct<a: int, b: list<string>>"
    assert is_primitive("timestamptz")
    assert is_primitive("decimal(38,0)")
    assert not is_primitive("list<int>")
