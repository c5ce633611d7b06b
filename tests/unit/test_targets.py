import pytest

from lakeport.pipeline.targets import name_from_filename, safe_identifier, unique_name


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("Sales Report.csv", "sales_report"),
        ("data.csv.gz", "data"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\Q1 (final).xlsx", "q1_final"),
        ("2024-orders.parquet", "_2024_orders"),
        ("....csv", "dataset"),
        ("", "dataset"),
    ],
)
def test_dataset_names_from_filenames_are_safe(filename, expected):
    assert name_from_filename(filename) == expected


def test_safe_identifier_never_returns_something_unsafe():
    for raw in ["héllo wörld", "DROP TABLE x;--", "\x00nul", "   ", "a" * 500]:
        name = safe_identifier(raw)
        assert name and len(name) <= 101
        assert all(c.isascii() and (c.isalnum() or c == "_") for c in name)
        assert not name[0].isdigit()


def test_unique_name_adds_the_first_free_suffix():
    assert unique_name("orders", set()) == "orders"
    assert unique_name("orders", {"orders"}) == "orders_2"
    assert unique_name("orders", {"orders", "orders_2"}) == "orders_3"
