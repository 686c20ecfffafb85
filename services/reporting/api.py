"""Reporting HTTP API: the ledger (台账) and county dashboards, limited to the caller's jurisdiction."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Path, Query, status
from pydantic import BaseModel, Field

from services.reporting.queries import LedgerFilter, ReportingQueries, Scope
from services.runtime.auth import Actor, CurrentActor, require_role
from services.runtime.bootstrap import Runtime, base_app

READERS = ("auditor", "province_officer", "prefecture_officer", "county_officer", "township_officer", "school_staff")
COUNTY = r"^\d{6}$"
TOWNSHIP = r"^\d{9}$"


class Position(BaseModel):
    """The last event of a topic the figures reflect."""

    topic: str
    sequence: int = Field(description="Source event store sequence (notification id)")
    event_time: datetime


class LedgerRowPublic(BaseModel):
    case_id: str
    student_id: str
    name_masked: str | None
    id_number_masked: str | None
    school_id: str | None
    school_name: str | None
    township_code: str
    county_code: str
    source: str
    status: str
    opened_at: datetime
    last_event_at: datetime


class LedgerPage(BaseModel):
    items: list[LedgerRowPublic]
    total: int
    page: int
    page_size: int
    as_of: list[Position]


class CountyFigures(BaseModel):
    county_code: str
    open_suspected_dropouts: int = Field(description="Cases at the suspected stage (疑似辍学), not yet resolved")
    cases: int


class TownshipFigures(BaseModel):
    township_code: str
    open_suspected_dropouts: int
    cases: int


class CountiesPublic(BaseModel):
    counties: list[CountyFigures]
    as_of: list[Position]


class CountyPublic(CountyFigures):
    townships: list[TownshipFigures]
    as_of: list[Position]


def scope_of(actor: Actor) -> Scope:
    """The caller's visibility: jurisdiction prefix, and for school staff bound to schools, those schools."""
    schools = tuple(actor.schools) if actor.role == "school_staff" and actor.schools else None
    return Scope(actor.jurisdiction, schools)


def require_overlap(actor: Actor, code: str, what: str) -> None:
    """A filter may be wider or narrower than the caller's jurisdiction, never beside it (403)."""
    if not (code.startswith(actor.jurisdiction) or actor.jurisdiction.startswith(code)):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail={"code": "out_of_jurisdiction", "message": f"{what} {code} 不在您的辖区 {actor.jurisdiction} 内"},
        )


def create_app(runtime: Runtime, queries: ReportingQueries) -> FastAPI:
    """The reporting API bound to its read models."""
    app = base_app(
        runtime,
        title="Baoxue reporting (台账与统计)",
        description="The suspected-dropout ledger and per-county figures. Every request needs a bearer token.",
        errors={},
    )
    router = APIRouter(prefix="/v1", tags=["reporting"])

    @router.get("/ledger", response_model=LedgerPage)
    def ledger(
        actor: CurrentActor,
        township_code: Annotated[str | None, Query(pattern=TOWNSHIP)] = None,
        county_code: Annotated[str | None, Query(pattern=COUNTY)] = None,
        status_: Annotated[str | None, Query(alias="status", max_length=32)] = None,
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
        page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> dict[str, Any]:
        require_role(actor, *READERS)
        if township_code:
            require_overlap(actor, township_code, "乡镇")
        if county_code:
            require_overlap(actor, county_code, "县")
        filters = LedgerFilter(township_code=township_code, county_code=county_code, status=status_)
        return queries.ledger(scope_of(actor), filters, page, page_size)

    @router.get("/dashboard/counties", response_model=CountiesPublic)
    def counties(actor: CurrentActor) -> dict[str, Any]:
        require_role(actor, *READERS)
        result = queries.counties(scope_of(actor))
        return {"counties": result["counties"], "as_of": result["as_of"]}

    @router.get("/dashboard/counties/{county_code}", response_model=CountyPublic)
    def county(county_code: Annotated[str, Path(pattern=COUNTY)], actor: CurrentActor) -> dict[str, Any]:
        require_role(actor, *READERS)
        require_overlap(actor, county_code, "县")
        result = queries.counties(scope_of(actor), county_code)
        if not result["counties"]:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, detail={"code": "not_found", "message": f"县 {county_code} 暂无学校或案件数据"}
            )
        return {**result["counties"][0], "townships": result["townships"], "as_of": result["as_of"]}

    app.include_router(router)
    return app
