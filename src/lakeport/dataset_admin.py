"""Deleting a dataset: its Iceberg table and files go, and its bytes come back to the quota.

The table is purged first and the row removed after, under the collection's advisory
lock (the same one ``register`` takes), so an append racing the delete either commits
before it (and is deleted with the table) or finds the dataset gone and fails cleanly.
"""

from __future__ import annotations

from sqlalchemy import select

from lakeport.access import collection_for
from lakeport.db import quota
from lakeport.db import uploads as repo
from lakeport.db.locks import lock_collection
from lakeport.db.models import Upload
from lakeport.db.tenancy import Principal
from lakeport.errors import not_found
from lakeport.runtime import Runtime
from lakeport.tables.commit import drop_table


def delete_dataset(rt: Runtime, principal: Principal, dataset_id: str) -> None:
    """Drop the table and its files, remove the dataset, release its uploads' bytes."""
    with rt.sessions.begin() as session:
        dataset = repo.get_dataset(session, principal.org_id, dataset_id)
        if dataset is None:
            raise not_found("dataset")
        collection_for(session, principal, dataset.collection_id, "write")
        lock_collection(session, dataset.collection_id)
        drop_table(rt.catalog, [*dataset.namespace, dataset.table_name])
        charged = session.scalars(
            select(Upload).where(Upload.dataset_id == dataset.id, Upload.charged_bytes > 0)
        )
        for upload in charged:
            quota.release_used(session, upload.org_id, upload.user_id, upload.charged_bytes)
            upload.charged_bytes = 0
        session.delete(dataset)
