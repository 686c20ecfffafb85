"""Dashboard routes: a unit of any level (or a school) and its children, and the walking-skeleton county shapes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from services.reporting.application.reading import Reading
from services.reporting.entrypoints.api.ledgers import CODE, COUNTY, TOWNSHIP
from services.reporting.entrypoints.api.schemas import CountiesPublic, CountyPublic
from services.runtime.auth import CurrentActor


def router(reads: Reading) -> APIRouter:
    """The dashboard routes over the reading use cases."""
    api = APIRouter(prefix="/v1", tags=["reporting"])

    @api.get("/dashboard/counties", response_model=CountiesPublic, include_in_schema=False)
    def counties(actor: CurrentActor) -> dict[str, Any]:
        return reads.counties(actor)

    @api.get("/dashboard/counties/{county_code}", response_model=CountyPublic,
             summary="One county with its townships (walking-skeleton shape, kept for its clients)")
    def county(county_code: Annotated[str, Path(pattern=COUNTY)], actor: CurrentActor) -> dict[str, Any]:
        return reads.county(actor, county_code)

    @api.get("/dashboard/{code}", summary="Figures of a province, prefecture, county or township and its children")
    def dashboard(code: Annotated[str, Path(pattern=CODE)], actor: CurrentActor,
                  as_of: Annotated[date | None, Query()] = None) -> dict[str, Any]:
        return reads.dashboard(actor, code, None, as_of)

    @api.get("/dashboard/{township_code}/schools/{school_id}", summary="Figures of one school")
    def school_dashboard(township_code: Annotated[str, Path(pattern=TOWNSHIP)], school_id: str, actor: CurrentActor,
                         as_of: Annotated[date | None, Query()] = None) -> dict[str, Any]:
        return reads.dashboard(actor, township_code, school_id, as_of)

    return api
