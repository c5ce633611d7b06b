"""Exactly-once commits: one Iceberg snapshot per upload, marked with the upload's ID.

The snapshot summary carries ``lakeport.upload-id``. Before committing, the table's
snapshots are searched for that marker: a worker that died after the commit but before
recording it finds its own snapshot and moves on instead of appending twice.
``CommitFailedException`` (another writer won the race) is an expected outcome: refresh,
look for the marker again, retry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError, TableAlreadyExistsError
from pyiceberg.io import load_file_io
from pyiceberg.io.pyarrow import parquet_files_to_data_files
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC
from pyiceberg.table import (
    CreateTableTransaction,
    StagedTable,
    Table,
    TableProperties,
    Transaction,
)
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.metadata import new_table_metadata
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER

from lakeport.errors import TransientError

logger = logging.getLogger(__name__)

UPLOAD_MARKER = "lakeport.upload-id"
#: A group commit (many source files, one snapshot) lists its uploads here.
GROUP_MARKER = "lakeport.upload-ids"
MAX_COMMIT_ATTEMPTS = 8


#: Properties of every table lakeport creates. Merging manifests: each append writes a
#: manifest of its own, so a source table fed 10,000 files in 340 group commits had 340
#: manifests for every reader to open when planning a scan, and a manifest list that every
#: commit rewrote longer. With merging, an append that finds 100 or more small manifests
#: (Iceberg's default ``min-count-to-merge``) packs them into manifests of up to 8 MB.
TABLE_PROPERTIES = {TableProperties.MANIFEST_MERGE_ENABLED: "true"}


@dataclass(frozen=True)
class CommitResult:
    """What the commit did: the snapshot holding the upload, and whether it was new."""

    snapshot_id: int
    already_committed: bool


def ensure_table(
    catalog: Catalog, identifier: tuple[str, ...], schema: pa.Schema, location: str
) -> Table:
    """Load the table, creating its namespace and itself when missing."""
    catalog.create_namespace_if_not_exists(identifier[:-1])
    try:
        return catalog.load_table(identifier)
    except NoSuchTableError:
        return catalog.create_table_if_not_exists(
            identifier, schema=schema, location=location, properties=TABLE_PROPERTIES
        )


def create_with_files(
    catalog: Catalog,
    identifier: tuple[str, ...],
    schema: pa.Schema,
    location: str,
    upload_id: str,
    paths: list[str],
) -> Table | None:
    """Create the table with ``paths`` as its first snapshot (marked with
    ``upload_id``) in one catalog commit, or return None if the table exists already.

    Readers never see an empty table that a failed upload must later drop, and one
    metadata file and one catalog write replace two of each (creating, then appending).
    """
    catalog.create_namespace_if_not_exists(identifier[:-1])
    try:
        tx = CreateTableTransaction(_staged_table(catalog, identifier, schema, location))
        tx.add_files(paths, snapshot_properties={UPLOAD_MARKER: upload_id})
        staged = tx.commit_transaction()
    except (TableAlreadyExistsError, CommitFailedException):  # someone created it first
        return None
    # an ordinary table (a staged one refuses refresh and scan), without reading it back
    return Table(
        identifier=identifier,
        metadata=staged.metadata,
        metadata_location=staged.metadata_location,
        io=staged.io,
        catalog=catalog,
    )


def _staged_table(
    catalog: Catalog, identifier: tuple[str, ...], schema: pa.Schema, location: str
) -> StagedTable:
    """A new table not yet in the catalog, made as ``SqlCatalog.create_table`` makes
    one. ``Catalog.create_table_transaction`` would do, but it refuses namespaces of
    more than one level (``org.collection``), which ``SqlCatalog`` itself supports."""
    iceberg_schema = catalog._convert_schema_if_needed(
        schema, TableProperties.DEFAULT_FORMAT_VERSION
    )
    provider = load_location_provider(location, TABLE_PROPERTIES)
    metadata_location = provider.new_table_metadata_file_location()
    metadata = new_table_metadata(
        location=location,
        schema=iceberg_schema,
        partition_spec=UNPARTITIONED_PARTITION_SPEC,
        sort_order=UNSORTED_SORT_ORDER,
        properties=TABLE_PROPERTIES,
    )
    return StagedTable(
        identifier=identifier,
        metadata=metadata,
        metadata_location=metadata_location,
        io=load_file_io(properties=catalog.properties, location=metadata_location),
        catalog=catalog,
    )


def load_table(catalog: Catalog, identifier: Sequence[str]) -> Table | None:
    """The table, or None when it does not exist."""
    try:
        return catalog.load_table(tuple(identifier))
    except NoSuchTableError:
        return None


def _marked(table: Table) -> Iterator[tuple[int, set[str]]]:
    for snapshot in table.snapshots():
        props = snapshot.summary.additional_properties if snapshot.summary else {}
        ids = set(filter(None, props.get(GROUP_MARKER, "").split(",")))
        if props.get(UPLOAD_MARKER):
            ids.add(props[UPLOAD_MARKER])
        yield snapshot.snapshot_id, ids


def find_marked_snapshot(table: Table, upload_id: str) -> int | None:
    """The snapshot that committed ``upload_id`` (alone or in a group), if any."""
    return next((sid for sid, ids in _marked(table) if upload_id in ids), None)


def committed_ids(table: Table) -> set[str]:
    """Every upload ID any snapshot of ``table`` records as committed."""
    return set().union(*(ids for _, ids in _marked(table)))


def commit_group(table: Table, parts: dict[str, tuple[list[str], list[str]]]) -> set[str]:
    """Commit several uploads' files in one snapshot; ``parts`` maps upload ID to
    (data files to add, data files they replace). Uploads a snapshot already records are
    left out (a retried group commits only what is missing). Returns the IDs it committed.
    """
    for attempt in range(1, MAX_COMMIT_ATTEMPTS + 1):
        table.refresh()
        done = committed_ids(table)
        pending = {u: p for u, p in parts.items() if u not in done}
        if not pending:
            return set()
        paths = [path for added, _ in pending.values() for path in added]
        replaces = [path for _, old in pending.values() for path in old]
        props = {GROUP_MARKER: ",".join(sorted(pending))}
        try:
            with table.transaction() as tx:
                if replaces:
                    _replace_files(tx, table, paths, replaces, props)
                else:
                    tx.add_files(paths, snapshot_properties=props)
        except CommitFailedException:
            logger.info("group commit lost a race (attempt %d); retrying", attempt)
            time.sleep(min(0.05 * 2**attempt, 2.0))
            continue
        return set(pending)
    raise TransientError("catalog_error", "could not commit a group: too much contention")


def commit_files(
    table: Table,
    upload_id: str,
    paths: list[str],
    evolve_to: pa.Schema | None = None,
    replaces: list[str] | None = None,
) -> CommitResult:
    """Add ``paths`` to ``table`` in one snapshot marked with ``upload_id``, exactly once.

    With ``evolve_to``, the schema change (added columns, promoted types) is made in the
    same transaction, so readers see the new schema and the new rows together. With
    ``replaces``, those data files (an earlier version of the same source file) are
    removed in the same snapshot: a reader sees the old rows or the new, never both.
    """
    for attempt in range(1, MAX_COMMIT_ATTEMPTS + 1):
        table.refresh()
        existing = find_marked_snapshot(table, upload_id)
        if existing is not None:
            return CommitResult(existing, already_committed=True)
        try:
            with table.transaction() as tx:
                if evolve_to is not None:
                    with tx.update_schema() as update:
                        update.union_by_name(evolve_to)
                if replaces:
                    _replace_files(tx, table, paths, replaces, {UPLOAD_MARKER: upload_id})
                else:
                    tx.add_files(paths, snapshot_properties={UPLOAD_MARKER: upload_id})
        except CommitFailedException:
            logger.info("commit of %s lost a race (attempt %d); retrying", upload_id, attempt)
            time.sleep(min(0.05 * 2**attempt, 2.0))
            continue
        snapshot = table.current_snapshot()
        assert snapshot is not None
        return CommitResult(snapshot.snapshot_id, already_committed=False)
    raise TransientError(
        "catalog_error", f"could not commit upload {upload_id}: too much contention"
    )


def _replace_files(
    tx: Transaction, table: Table, paths: list[str], replaces: list[str],
    properties: dict[str, str],
) -> None:
    """One overwrite snapshot: the old data files out, the new ones in."""
    old = set(replaces)
    added = list(parquet_files_to_data_files(table.io, tx.table_metadata, iter(paths)))
    with tx.update_snapshot(snapshot_properties=properties).overwrite() as overwrite:
        for task in table.scan().plan_files():
            if task.file.file_path in old:
                overwrite.delete_data_file(task.file)
        for data_file in added:
            overwrite.append_data_file(data_file)


def table_stats(table: Table) -> tuple[int, int]:
    """(total rows, total data-file bytes) of the current snapshot."""
    snapshot = table.current_snapshot()
    if snapshot is None or snapshot.summary is None:
        return 0, 0
    props = snapshot.summary.additional_properties
    return int(props.get("total-records", 0)), int(props.get("total-files-size", 0))


def drop_table(catalog: Catalog, identifier: Sequence[str]) -> None:
    """Drop a table and purge its files; missing tables are fine."""
    try:
        catalog.purge_table(tuple(identifier))
    except NoSuchTableError:
        return
