"""``on_delete: delete_rows``: a file gone from the prefix takes its rows with it.

The data files the file's last load produced are removed in one Iceberg snapshot,
marked so a retried job sees it already happened.
"""

from __future__ import annotations

from sqlalchemy import select

from lakeport.db import uploads as uploads_repo
from lakeport.db.locks import lock_collection
from lakeport.db.models import Source, SourceFile
from lakeport.pipeline.targets import safe_identifier
from lakeport.runtime import Runtime
from lakeport.tables.commit import commit_files, load_table, table_stats


def remove_file_rows(rt: Runtime, source_file_id: str) -> int:
    """Drop a deleted file's rows from its dataset; returns how many data files went."""
    with rt.sessions.begin() as session:
        file = session.scalar(
            select(SourceFile).where(SourceFile.id == source_file_id).with_for_update()
        )
        source = session.get(Source, file.source_id) if file else None
        if file is None or source is None or file.status != "deleted" or not file.data_files:
            return 0
        lock_collection(session, source.collection_id)
        name = safe_identifier(source.options.get("dataset_name", source.name))
        dataset = uploads_repo.get_dataset_by_name(session, source.collection_id, name)
        if dataset is None:
            return 0
        table = load_table(rt.catalog, [*dataset.namespace, dataset.table_name])
        if table is None:
            return 0
        removed = list(file.data_files)
        marker = f"remove:{file.id}:{file.etag}"
        commit_files(table, marker, [], replaces=removed)
        dataset.row_count, dataset.size_bytes = table_stats(table)
        file.data_files = []
        file.rows_loaded = 0
        return len(removed)
