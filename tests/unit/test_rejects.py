"""The rejects list of an upload: streamed NDJSON in the landing zone, read in pages."""

from __future__ import annotations

from lakeport.formats import Reject
from lakeport.pipeline.rejects import MAX_VALUE_CHARS, RejectSink, read_rejects, rejects_key
from lakeport.storage.local import LocalStore

KEY = rejects_key("org", "upload")
REASON = "the row has 1 fields but the header has 2"


def test_rejects_are_kept_next_to_the_landing_object():
    assert KEY == "uploads/org/upload/rejects.ndjson"


def test_sink_streams_rejects_and_pages_read_them_back(tmp_path):
    store = LocalStore(tmp_path)
    sink = RejectSink(store, KEY)
    for line in range(1, 6):
        sink(Reject(line, "b", f"row {line}", REASON))
    sink(Reject(None, None, "é" * (MAX_VALUE_CHARS + 50), "too long"))
    assert store.stat(KEY) is None  # nothing visible before the step commits it
    assert sink.close() == 6
    page = read_rejects(store, KEY, offset=1, limit=2)
    assert page == [
        {"line": 2, "column": "b", "value": "row 2", "reason": REASON},
        {"line": 3, "column": "b", "value": "row 3", "reason": REASON},
    ]
    [last] = read_rejects(store, KEY, offset=5, limit=100)
    assert last["value"] == "é" * MAX_VALUE_CHARS
    assert last == {"line": None, "column": None, "value": last["value"], "reason": "too long"}
    assert read_rejects(store, KEY, offset=6, limit=100) == []


def test_nothing_rejected_leaves_no_list_and_removes_a_stale_one(tmp_path):
    store = LocalStore(tmp_path)
    first = RejectSink(store, KEY)
    first(Reject(1, None, "x", "bad"))
    first.close()
    again = RejectSink(store, KEY)
    assert again.close() == 0
    assert store.stat(KEY) is None
    assert read_rejects(store, KEY, offset=0, limit=10) == []


def test_an_aborted_sink_leaves_nothing(tmp_path):
    store = LocalStore(tmp_path)
    sink = RejectSink(store, KEY)
    sink(Reject(1, None, "x", "bad"))
    sink.abort()
    assert store.stat(KEY) is None
