"""The BI feed as JSON: the same views as the ``bi`` schema, paged and limited to the caller's jurisdiction."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from services.reporting.application.reading import Reading
from services.runtime.auth import CurrentActor


def router(reads: Reading) -> APIRouter:
    """The BI routes over the reading use cases."""
    api = APIRouter(prefix="/v1/bi", tags=["bi"])

    @api.get("", summary="The BI datasets (facts and dimensions) and their descriptions")
    def datasets(actor: CurrentActor) -> dict[str, Any]:
        return reads.bi_datasets()

    @api.get("/{dataset}", summary="One BI dataset, paged, inside the caller's jurisdiction")
    def dataset(dataset: Annotated[str, Path(pattern="^[a-z_]+$")], actor: CurrentActor,
                page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
                page_size: Annotated[int, Query(ge=1, le=5000)] = 1000) -> dict[str, Any]:
        return reads.bi_page(actor, dataset, page, page_size)

    return api
