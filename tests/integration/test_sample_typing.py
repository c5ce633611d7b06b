"""CSV typed from a sample, through the real pipeline: one read when the sample's types
hold; back to infer (whole-file types, planning again) when a late value does not fit;
nothing staged is left behind either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.pipeline_helpers import collection, upload
from tests.readback import iceberg_table, read_with_pyiceberg
from tests.unit.test_formats_csv_sample import ROWS, SAMPLE, _csv


@pytest.fixture
def sampled(runtime):
    runtime.settings.worker.infer_sample_bytes = SAMPLE
    return runtime


def _steps(body: dict) -> list[str]:
    return [f"{e['step']}:{e['phase']}" for e in body["completion_steps_log"]]


def _table(api, database_url, settings, dataset_id: str):
    dataset = api.get(f"/v1/datasets/{dataset_id}").json()
    identifier = [*dataset["table"]["namespace"].split("."), dataset["table"]["name"]]
    return dataset, iceberg_table(database_url, settings.warehouse(), identifier)


def _no_orphans(table) -> None:
    referenced = {Path(t.file.file_path.removeprefix("file://")) for t in table.scan().plan_files()}
    on_disk = set(Path(table.location().removeprefix("file://"), "data").glob("*.parquet"))
    assert on_disk == referenced


def test_types_that_hold_are_converted_in_one_read(api, sampled, tmp_path, database_url, settings):
    coll = collection(api)
    body = upload(api, sampled, coll, "big.csv", _csv(tmp_path).read_bytes())
    assert body["status"] == "registered", body["failure_reason"]
    assert _steps(body).count("infer:start") == 1
    assert body["schema_preview"]["row_count"] == ROWS == body["rows_read"]
    dataset, table = _table(api, database_url, settings, body["dataset_id"])
    assert [f["type"] for f in dataset["schema"]["fields"]] == [
        "long", "double", "date", "string", "long",
    ]  # fmt: skip
    assert read_with_pyiceberg(table).num_rows == ROWS
    _no_orphans(table)


def test_the_convert_step_continues_the_typing_pass_read(
    api, sampled, tmp_path, monkeypatch
):
    """Inside one pipeline job the file is opened for reading once: convert takes the
    typing pass's parsed sample and open reader (formats/carry_over.py)."""
    from lakeport.formats import csv as csv_module

    opened: list[int] = []
    real = csv_module.string_batches

    def counting(*args, **kwargs):
        opened.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(csv_module, "string_batches", counting)
    body = upload(api, sampled, collection(api), "big.csv", _csv(tmp_path).read_bytes())
    assert body["status"] == "registered", body["failure_reason"]
    assert body["rows_loaded"] == ROWS
    assert len(opened) == 1


def test_a_late_misfit_sends_the_file_back_to_infer(api, sampled, tmp_path, database_url, settings):
    coll = collection(api)
    data = _csv(tmp_path, late={"day": "2024-01-02T10:00:00"}).read_bytes()
    body = upload(api, sampled, coll, "big.csv", data)
    assert body["status"] == "registered", body["failure_reason"]
    steps = _steps(body)
    assert steps.count("infer:start") == 2 and steps.count("convert:start") == 2, steps
    dataset, table = _table(api, database_url, settings, body["dataset_id"])
    assert {f["name"]: f["type"] for f in dataset["schema"]["fields"]}["day"] == "timestamp"
    rows = read_with_pyiceberg(table)
    assert rows.num_rows == ROWS and sorted(rows.column("id").to_pylist()) == list(range(ROWS))
    _no_orphans(table)


def test_drift_is_judged_on_the_whole_files_types(api, sampled, tmp_path):
    """The sample matches the dataset; the whole file does not: strict append fails as
    drift and the table keeps its rows."""
    coll = collection(api)
    first = upload(api, sampled, coll, "big.csv", _csv(tmp_path).read_bytes(), dataset_name="t")
    assert first["status"] == "registered"
    late = _csv(tmp_path, late={"id": "n/a"}).read_bytes()
    second = upload(api, sampled, coll, "late.csv", late, dataset_name="t")
    assert second["status"] == "failed"
    assert second["failure_reason"]["code"] == "schema_drift"
    changed = second["failure_reason"]["details"]["diff"]["changed"]
    assert changed == [{"name": "id", "from": "long", "to": "string"}]
    assert api.get(f"/v1/datasets/{first['dataset_id']}").json()["row_count"] == ROWS
