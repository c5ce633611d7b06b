"""Creating a table together with its first files, against the real SQL catalog on
PostgreSQL and Parquet files on disk, read back with pyiceberg."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lakeport.tables.commit import (
    UPLOAD_MARKER,
    commit_files,
    create_with_files,
    ensure_table,
    find_marked_snapshot,
)
from tests.readback import read_with_pyiceberg

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string())])


def _file(location: Path, name: str, ids: list[int]) -> str:
    path = location / "data" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"id": ids, "name": [f"n{i}" for i in ids]}, schema=SCHEMA), path)
    return f"file://{path}"


def test_a_table_is_created_holding_its_first_files(runtime, tmp_path: Path) -> None:
    location = tmp_path / "t1"
    identifier = ("org_a", "coll_a", "made")
    table = create_with_files(
        runtime.catalog, identifier, SCHEMA, f"file://{location}", "up-1",
        [_file(location, "a.parquet", [1, 2]), _file(location, "b.parquet", [3])],
    )  # fmt: skip
    assert table is not None
    assert read_with_pyiceberg(table.refresh()).num_rows == 3  # an ordinary table back
    loaded = runtime.catalog.load_table(identifier)
    assert loaded.metadata.metadata_log == []  # its first version already has the rows
    (snapshot,) = loaded.snapshots()
    assert snapshot.summary is not None and snapshot.summary[UPLOAD_MARKER] == "up-1"
    assert sorted(read_with_pyiceberg(loaded).column("id").to_pylist()) == [1, 2, 3]


def test_creating_a_table_that_exists_returns_none_and_changes_nothing(
    runtime, tmp_path: Path
) -> None:
    location = tmp_path / "t2"
    identifier = ("org_a", "coll_a", "taken")
    first = _file(location, "a.parquet", [1])
    assert create_with_files(
        runtime.catalog, identifier, SCHEMA, f"file://{location}", "up-1", [first]
    ) is not None  # fmt: skip
    again = create_with_files(
        runtime.catalog, identifier, SCHEMA, f"file://{location}", "up-2",
        [_file(location, "b.parquet", [2])],
    )  # fmt: skip
    assert again is None
    loaded = runtime.catalog.load_table(identifier)
    assert len(loaded.snapshots()) == 1
    assert read_with_pyiceberg(loaded).column("id").to_pylist() == [1]


def test_appends_merge_small_manifests_instead_of_piling_them_up(runtime, tmp_path: Path) -> None:
    """Every table lakeport creates merges manifests on append; here the threshold is
    lowered from Iceberg's 100 to 4 so that a few appends show it."""
    location = tmp_path / "t3"
    identifier = ("org_a", "coll_a", "merged")
    table = create_with_files(
        runtime.catalog, identifier, SCHEMA, f"file://{location}", "up-0",
        [_file(location, "f0.parquet", [0])],
    )  # fmt: skip
    assert table is not None
    assert table.properties["commit.manifest-merge.enabled"] == "true"
    with table.transaction() as tx:
        tx.set_properties({"commit.manifest.min-count-to-merge": "4"})
    for n in range(1, 10):
        commit_files(table, f"up-{n}", [_file(location, f"f{n}.parquet", [n])])
    table = runtime.catalog.load_table(identifier)
    snapshot = table.current_snapshot()
    assert snapshot is not None
    manifests = snapshot.manifests(table.io)
    assert len(manifests) < 4  # ten appends, fewer than four manifests
    assert sorted(read_with_pyiceberg(table).column("id").to_pylist()) == list(range(10))
    assert all(find_marked_snapshot(table, f"up-{n}") is not None for n in range(10))


def test_a_table_created_before_its_first_files_merges_manifests_too(
    runtime, tmp_path: Path
) -> None:
    table = ensure_table(
        runtime.catalog, ("org_a", "coll_a", "empty"), SCHEMA, f"file://{tmp_path / 't4'}"
    )
    assert table.properties["commit.manifest-merge.enabled"] == "true"
