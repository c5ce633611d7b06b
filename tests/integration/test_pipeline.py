"""The pipeline against real PostgreSQL, local storage and real Iceberg tables."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq

from tests.integration.pipeline_helpers import collection, rows_of, upload

CSV = b"id,name,score\n1,ann,1.5\n2,bob,2.5\n"


def test_csv_becomes_a_dataset_with_rows_schema_and_mapping(api, runtime):
    coll = collection(api)
    done = upload(api, runtime, coll, "My File.csv", b"ID,Full Name,score\n1,ann,1.5\n")
    assert done["completion_status"] == "registered", done["failure_reason"]
    assert done["rows_read"] == done["rows_loaded"] == 1
    assert done["table"]["name"] == "my_file"
    ds = api.get(f"/v1/datasets/{done['dataset_id']}").json()
    assert [f["name"] for f in ds["schema"]["fields"]] == ["id", "full_name", "score"]
    assert {"original": "Full Name", "name": "full_name"} in ds["column_mapping"]
    assert rows_of(api, done["dataset_id"]) == [{"id": 1, "full_name": "ann", "score": 1.5}]


def test_same_name_twice_appends_with_identical_schema(api, runtime):
    coll = collection(api)
    first = upload(api, runtime, coll, "a.csv", CSV, dataset_name="scores")
    second = upload(
        api, runtime, coll, "b.csv", b"id,name,score\n3,cy,0.5\n", dataset_name="scores"
    )
    assert second["completion_status"] == "registered"
    assert second["dataset_id"] == first["dataset_id"]
    assert sorted(r["id"] for r in rows_of(api, first["dataset_id"])) == [1, 2, 3]
    assert api.get(f"/v1/datasets/{first['dataset_id']}").json()["row_count"] == 3


def test_a_new_table_is_created_holding_its_first_rows_in_one_commit(api, runtime):
    """No reader ever sees the new dataset's table empty: its first metadata version
    already has the upload's snapshot. An append then adds one more version."""
    coll = collection(api)
    first = upload(api, runtime, coll, "a.csv", CSV, dataset_name="once")
    ds = api.get(f"/v1/datasets/{first['dataset_id']}").json()
    identifier = (*ds["table"]["namespace"].split("."), ds["table"]["name"])
    table = runtime.catalog.load_table(identifier)
    assert table.metadata.metadata_log == []  # no earlier (empty) version
    (snapshot,) = table.snapshots()
    assert snapshot.summary["lakeport.upload-id"] == first["id"]
    assert snapshot.summary["added-records"] == "2"
    second = upload(api, runtime, coll, "b.csv", CSV, dataset_name="once", force=True)
    assert second["completion_status"] == "registered", second["failure_reason"]
    table = runtime.catalog.load_table(identifier)
    assert len(table.metadata.metadata_log) == 1 and len(table.snapshots()) == 2


def test_unnamed_uploads_of_one_filename_get_distinct_datasets(api, runtime):
    coll = collection(api)
    a = upload(api, runtime, coll, "data.csv", CSV)
    b = upload(api, runtime, coll, "data.csv", CSV)
    names = {api.get(f"/v1/datasets/{d['dataset_id']}").json()["name"] for d in (a, b)}
    assert names == {"data", "data_2"}


def test_strict_append_with_drift_fails_and_leaves_the_table_alone(api, runtime):
    coll = collection(api)
    first = upload(api, runtime, coll, "a.csv", CSV, dataset_name="t")
    bad = upload(api, runtime, coll, "b.csv", b"id,name,extra\n9,zed,x\n", dataset_name="t")
    assert bad["completion_status"] == "failed"
    reason = bad["failure_reason"]
    assert reason["code"] == "schema_drift" and reason["step"] == "infer"
    assert reason["details"]["diff"] == {
        "added": [{"name": "extra", "type": "string"}],
        "removed": [{"name": "score", "type": "double"}],
        "changed": [],
    }
    assert sorted(r["id"] for r in rows_of(api, first["dataset_id"])) == [1, 2]


def test_evolve_adds_columns_and_promotes_in_one_commit(api, runtime):
    coll = collection(api)
    first = upload(api, runtime, coll, "a.csv", CSV, dataset_name="e")
    more = upload(
        api,
        runtime,
        coll,
        "b.csv",
        b"id,name,score,city\n3,cy,7,Oslo\n",
        dataset_name="e",
        schema_policy="evolve",
    )
    assert more["completion_status"] == "registered", more["failure_reason"]
    ds = api.get(f"/v1/datasets/{first['dataset_id']}").json()
    assert [(f["name"], f["type"]) for f in ds["schema"]["fields"]] == [
        ("id", "long"),
        ("name", "string"),
        ("score", "double"),
        ("city", "string"),
    ]
    rows = sorted(rows_of(api, first["dataset_id"]), key=lambda r: r["id"])
    assert [r["city"] for r in rows] == [None, None, "Oslo"]
    assert rows[2]["score"] == 7.0


def test_evolve_refuses_unsafe_changes(api, runtime):
    coll = collection(api)
    upload(api, runtime, coll, "a.csv", CSV, dataset_name="u")
    bad = upload(
        api,
        runtime,
        coll,
        "b.csv",
        b"id,name,score\nx,cy,1\n",
        dataset_name="u",
        schema_policy="evolve",
    )
    assert bad["failure_reason"]["code"] == "schema_drift"
    assert "cannot change from long to string" in bad["failure_reason"]["message"]


def test_review_parks_then_approve_continues_and_reject_fails(api, runtime):
    from lakeport.pipeline.runner import run_upload

    coll = collection(api)
    first = upload(api, runtime, coll, "a.csv", CSV, dataset_name="r")
    parked = upload(
        api,
        runtime,
        coll,
        "b.csv",
        b"id,name,score,x\n5,e,1,q\n",
        dataset_name="r",
        schema_policy="review",
    )
    assert parked["completion_status"] == "awaiting_review"
    r = api.post(f"/v1/uploads/{parked['id']}/review", json={"decision": "approve"})
    assert r.status_code == 200, r.text
    run_upload(runtime, parked["id"])
    assert api.get(f"/v1/uploads/{parked['id']}").json()["completion_status"] == "registered"
    assert len(rows_of(api, first["dataset_id"])) == 3

    other = upload(
        api,
        runtime,
        coll,
        "c.csv",
        b"id,name,score,x,y\n6,f,1,q,w\n",
        dataset_name="r",
        schema_policy="review",
    )
    r = api.post(f"/v1/uploads/{other['id']}/review", json={"decision": "reject"})
    assert r.json()["completion_status"] == "failed"
    assert r.json()["failure_reason"]["code"] == "schema_drift"
    again = api.post(f"/v1/uploads/{other['id']}/review", json={"decision": "approve"})
    assert again.status_code == 409 and again.json()["code"] == "invalid_state"


def test_same_bytes_into_same_dataset_is_a_duplicate_unless_forced(api, runtime):
    coll = collection(api)
    first = upload(api, runtime, coll, "a.csv", CSV, dataset_name="d")
    dup = upload(api, runtime, coll, "a.csv", CSV, dataset_name="d")
    assert dup["completion_status"] == "registered" and dup["rows_loaded"] == 0
    assert dup["duplicate_of"] == first["id"]
    assert len(rows_of(api, first["dataset_id"])) == 2
    forced = upload(api, runtime, coll, "a.csv", CSV, dataset_name="d", force="true")
    assert forced["rows_loaded"] == 2
    assert len(rows_of(api, first["dataset_id"])) == 4


def test_dry_run_reports_but_changes_nothing(api, runtime):
    coll = collection(api)
    dry = upload(api, runtime, coll, "a.csv", CSV, dry_run="true")
    assert dry["completion_status"] == "validated"
    assert dry["rows_read"] == 2 and dry["rows_loaded"] == 0
    assert dry["schema_preview"]["columns"] == ["id", "name", "score"]
    assert api.get(f"/v1/collections/{coll}/datasets").json()["items"] == []


def test_parquet_upload_reads_schema_from_footer(api, runtime):
    coll = collection(api)
    buf = io.BytesIO()
    pq.write_table(pa.table({"a": [1, 2, 3], "b": ["x", None, "z"]}), buf, row_group_size=2)
    done = upload(api, runtime, coll, "p.bin", buf.getvalue())
    assert done["completion_status"] == "registered", done["failure_reason"]
    assert done["schema_preview"]["row_count"] == 3
    assert done["schema_preview"]["num_row_groups"] == 2
    assert rows_of(api, done["dataset_id"]) == [
        {"a": 1, "b": "x"},
        {"a": 2, "b": None},
        {"a": 3, "b": "z"},
    ]


def test_unreadable_files_fail_with_a_code_and_leave_nothing(api, runtime):
    coll = collection(api)
    for name, data in (("empty.csv", b""), ("bin.csv", b"\x00\x01\x02\x03" * 100)):
        done = upload(api, runtime, coll, name, data)
        assert done["completion_status"] == "failed", name
        assert done["failure_reason"]["code"] in {
            "empty_file",
            "unsupported_format",
            "parse_error",
            "encoding_error",
        }
    assert api.get(f"/v1/collections/{coll}/datasets").json()["items"] == []
    warehouse = runtime.settings.resolved_data_dir() / "warehouse"
    assert not list(warehouse.rglob("*.parquet"))


def test_registered_upload_frees_its_landing_object_and_delete_dataset_frees_quota(api, runtime):
    coll = collection(api)
    done = upload(api, runtime, coll, "a.csv", CSV)
    assert done["completion_status"] == "registered"
    root = runtime.settings.storage_root()
    assert not [p for p in root.rglob("*") if p.is_file() and "uploads" in p.parts]
    assert api.get("/v1/me/quota").json()["org"]["used_bytes"] == len(CSV)
    table_dir = runtime.settings.resolved_data_dir() / "warehouse"
    assert list(table_dir.rglob("*.parquet"))

    r = api.delete(f"/v1/datasets/{done['dataset_id']}")
    assert r.status_code == 204
    assert api.get(f"/v1/datasets/{done['dataset_id']}").status_code == 404
    assert api.get("/v1/me/quota").json()["org"]["used_bytes"] == 0
    assert not list(table_dir.rglob("*.parquet"))
    assert api.delete(f"/v1/datasets/{done['dataset_id']}").status_code == 404


def test_compatible_parquet_is_added_as_is_and_incompatible_is_rewritten(api, runtime):
    coll = collection(api)
    buf = io.BytesIO()
    pq.write_table(pa.table({"a": [1, 2], "b": ["x", "y"]}), buf)
    done = upload(api, runtime, coll, "ok.parquet", buf.getvalue())
    assert done["completion_status"] == "registered", done["failure_reason"]
    staged = list((runtime.settings.resolved_data_dir() / "warehouse").rglob("lp-*.parquet"))
    assert len(staged) == 1
    assert staged[0].read_bytes() == buf.getvalue()  # the user's bytes, not a rewrite

    odd = io.BytesIO()  # nanosecond timestamps and an unsafe name need a rewrite
    pq.write_table(pa.table({"Odd Name": pa.array([1, 2], pa.timestamp("ns"))}), odd)
    rewritten = upload(api, runtime, coll, "odd.parquet", odd.getvalue())
    assert rewritten["completion_status"] == "registered", rewritten["failure_reason"]
    assert rows_of(api, rewritten["dataset_id"])[0] == {"odd_name": "1970-01-01T00:00:00"}
