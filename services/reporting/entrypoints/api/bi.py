"""The BI feed as JSON: the same views as the ``bi`` schema, paged and limited to the caller's jurisdiction."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Path, Query

from services.reporting import bi
from services.reporting.access import scope_of
from services.reporting.queries import ReportingQueries
from services.runtime.auth import CurrentActor


def mount(app: FastAPI, queries: ReportingQueries) -> None:
    router = APIRouter(prefix="/v1/bi", tags=["bi"])

    @router.get("", summary="The BI datasets (facts and dimensions) and their descriptions")
    def datasets(actor: CurrentActor) -> dict[str, Any]:
        with queries.view() as view:
            rows = view.conn.execute(
                "SELECT c.relname AS name, obj_description(c.oid) AS description FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'bi' AND c.relkind = 'v' "
                "ORDER BY c.relname").fetchall()
        return {"datasets": rows, "schema": "bi"}

    @router.get("/{dataset}", summary="One BI dataset, paged, inside the caller's jurisdiction")
    def dataset(dataset: Annotated[str, Path(pattern="^[a-z_]+$")], actor: CurrentActor,
                page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
                page_size: Annotated[int, Query(ge=1, le=5000)] = 1000) -> dict[str, Any]:
        if dataset not in bi.DATASETS and dataset != "dim_date":
            raise HTTPException(404, detail={"code": "not_found", "message": f"没有数据集 {dataset}"})
        scope = scope_of(actor)
        where, params = ("true", {}) if dataset in bi.UNSCOPED else scope.where("x")
        if dataset in ("dim_jurisdiction", "dim_special_group") and scope.schools is not None:
            where, params = "x.township_code LIKE %(scope)s", {"scope": scope.jurisdiction + "%"}
        params.update(limit=page_size, offset=(page - 1) * page_size)
        order = bi.DATASETS.get(dataset, "date")
        with queries.view() as view:
            rows = view.conn.execute(
                f"SELECT * FROM bi.{dataset} x WHERE {where} ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s",
                params).fetchall()
        return {"dataset": dataset, "items": rows, "page": page, "page_size": page_size,
                "positions": view.positions}

    app.include_router(router)
