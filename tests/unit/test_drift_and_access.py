from lakeport.domain import drift
from lakeport.domain.access import may


def test_diff_reports_added_removed_and_changed_columns():
    d = drift.diff(
        [("id", "long"), ("name", "string"), ("gone", "date")],
        [("id", "double"), ("name", "string"), ("new", "boolean")],
    )
    assert d == {
        "added": [{"name": "new", "type": "boolean"}],
        "removed": [{"name": "gone", "type": "date"}],
        "changed": [{"name": "id", "from": "long", "to": "double"}],
    }
    assert not drift.is_empty(d)


def test_identical_schemas_have_an_empty_diff():
    fields = [("a", "long"), ("b", "string")]
    assert drift.is_empty(drift.diff(fields, list(fields)))


def test_roles():
    assert may("admin", None, "write")
    assert may("member", "editor", "write")
    assert may("member", "viewer", "read")
    assert not may("member", "viewer", "write")
    assert not may("member", None, "read")
