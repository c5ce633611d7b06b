"""Datasets: the registered tables of a collection, their schema and their rows."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from lakeport import dataset_admin
from lakeport.api.deps import PrincipalDep, RuntimeDep, SessionDep, collection_for
from lakeport.api.schemas import DatasetOut, RowsOut
from lakeport.db import uploads as repo
from lakeport.db.models import Dataset
from lakeport.db.tenancy import Principal
from lakeport.errors import LakeportError, not_found
from lakeport.tables.commit import load_table
from lakeport.tables.read import read_rows

router = APIRouter(prefix="/v1", tags=["datasets"])


@router.get("/collections/{collection_id}/datasets")
def list_datasets(
    collection_id: str, principal: PrincipalDep, session: SessionDep
) -> dict[str, list[DatasetOut]]:
    collection_for(session, principal, collection_id, "read")
    items = repo.list_datasets(session, principal.org_id, collection_id)
    return {"items": [DatasetOut.of(d) for d in items]}


def _dataset(session: SessionDep, principal: Principal, dataset_id: str) -> Dataset:
    dataset = repo.get_dataset(session, principal.org_id, dataset_id)
    if dataset is None:
        raise not_found("dataset")
    collection_for(session, principal, dataset.collection_id, "read")
    return dataset


@router.get("/datasets/{dataset_id}", response_model_by_alias=True)
def get_dataset(dataset_id: str, principal: PrincipalDep, session: SessionDep) -> DatasetOut:
    return DatasetOut.of(_dataset(session, principal, dataset_id))


@router.delete("/datasets/{dataset_id}", status_code=204)
def delete_dataset(dataset_id: str, principal: PrincipalDep, rt: RuntimeDep) -> Response:
    """Drop the dataset's table and files; its bytes return to the quota."""
    dataset_admin.delete_dataset(rt, principal, dataset_id)
    return Response(status_code=204)


@router.get("/datasets/{dataset_id}/rows")
def get_rows(
    dataset_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    rt: RuntimeDep,
    limit: int = Query(100, ge=1, le=10_000),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> RowsOut:
    """Rows read from the Iceberg table itself (not from any copy lakeport keeps)."""
    dataset = _dataset(session, principal, dataset_id)
    table = load_table(rt.catalog, [*dataset.namespace, dataset.table_name])
    if table is None:
        raise LakeportError("catalog_error", "the dataset's table is missing from the catalog")
    columns, rows = read_rows(table, limit, offset)
    return RowsOut(columns=columns, rows=rows, limit=limit, offset=offset)
