"""Reporting HTTP API: ledgers (台账) with exports, dashboards per level, case timelines, limited to the
caller's jurisdiction; monthly reports, the BI feed and the web pages are mounted from their own modules."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Path, Query, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.reporting import dashboards, exports
from services.reporting.access import cut, require_overlap, scope_of
from services.reporting.ledgers import KINDS
from services.reporting.queries import LedgerFilter, ReportingQueries
from services.reporting.roles import MATRIX, WITHOUT_REPORTS
from services.runtime.auth import CurrentActor
from services.runtime.bootstrap import Runtime, base_app
from services.runtime.readaudit import ReadAudit, Reader, Subject, reading, reads_router
from services.runtime.web import seal

COUNTY = r"^[0-9]{6}$"
TOWNSHIP = r"^[0-9]{9}$"
CODE = r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3})?)?)?$"
EXPORT_LIMIT = 100_000


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
    grade: int | None = None
    school_id: str | None
    school_name: str | None
    township_code: str
    county_code: str
    source: str
    status: str
    causes: str | None = None
    gov_owners: str | None = Field(None, description="Government-line slots as stored: 'township=gov-001;village=…'")
    edu_owners: str | None = Field(None, description="Education-line slots as stored: 'head_teacher=ht-f9a0;…'")
    gov_owners_display: str | None = Field(None, description="For people: '政府线 乡镇干部：gov-001'")
    edu_owners_display: str | None = Field(None, description="For people: '教育线 班主任：ht-f9a0'")
    owners_display: str | None = Field(None, description="Both lines: '政府线 乡镇干部：gov-001；教育线 班主任：ht-f9a0'")
    legal_step: str | None = None
    opened_at: datetime
    verified_at: datetime | None = None
    returned_on: date | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    latest_action: str | None = None
    latest_action_at: datetime | None = None
    deadline_at: datetime | None = None
    deadline_status: str | None = None
    last_event_at: datetime


class LedgerPage(BaseModel):
    items: list[LedgerRowPublic]
    total: int
    page: int
    page_size: int
    as_of: list[Position]
    positions: dict[str, Any]


class CountyFigures(BaseModel):
    county_code: str
    open_suspected_dropouts: int = Field(description="Cases at the suspected stage (疑似辍学), not yet verified")
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
    figures: dict[str, Any]


def ledger_filters(request: Request, kind: str) -> LedgerFilter:
    """Only the filters the ledger allows, from the query string."""
    allowed = KINDS[kind].filters
    extra: dict[str, Any] = {}
    for name in allowed:
        value = request.query_params.get(name)
        if value not in (None, ""):
            extra[name] = {"true": True, "false": False}.get(value, value) if name == "overdue" else value
            if name == "grade":
                extra[name] = int(value) if value.isdigit() else -1
    return LedgerFilter(extra=extra)


def shown(items: list[dict[str, Any]], actor: Any) -> list[Subject]:
    """The children (and cases) of ledger rows, in each row's own township, for the read audit."""
    return [Subject(item.get("township_code") or actor.jurisdiction, student_id=item.get("student_id"),
                    case_id=item.get("case_id")) for item in items]


def create_app(runtime: Runtime, queries: ReportingQueries, targets: dict[str, dict[str, float]],
               reports: Any = None) -> FastAPI:
    """The reporting API bound to its read models (and, when given, the monthly report store)."""
    app = base_app(
        runtime,
        title="Baoxue reporting (台账与统计)",
        description="Ledgers, per-level dashboards, case timelines, monthly reports and the BI feed. "
        "Every request needs a bearer token; every answer is limited to the caller's jurisdiction.",
        errors={},
        roles=MATRIX if reports is not None else WITHOUT_REPORTS,
    )
    router = APIRouter(prefix="/v1", tags=["reporting"])

    def checked(actor: Any, request: Request, kind: str, as_of: date | None) -> tuple[LedgerFilter, datetime | None]:
        filters = ledger_filters(request, kind)
        for name in ("township_code", "county_code", "code"):
            if name in filters.extra:
                require_overlap(actor, str(filters.extra[name]), "辖区")
        return filters, cut(as_of, runtime.clock.today())

    @router.get("/ledger", response_model=LedgerPage, summary="控辍保学台账: one row per case")
    def ledger(
        request: Request, actor: CurrentActor, reader: Annotated[Reader, reading("reporting")],
        township_code: Annotated[str | None, Query(pattern=TOWNSHIP)] = None,
        county_code: Annotated[str | None, Query(pattern=COUNTY)] = None,
        code: Annotated[str | None, Query(pattern=CODE)] = None,
        status_: Annotated[str | None, Query(alias="status", max_length=32)] = None,
        sort: Annotated[str | None, Query(max_length=32)] = None,
        as_of: Annotated[date | None, Query(description="Ledger as it was at the end of this day")] = None,
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
        page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> dict[str, Any]:
        filters, at = checked(actor, request, "cases", as_of)
        try:
            result = queries.ledger(scope_of(actor), filters, page, page_size, sort, "cases", at)
        except KeyError as exc:
            raise HTTPException(422, detail={"code": "bad_sort", "message": f"不支持的排序字段 {sort}"}) from exc
        reader.viewed("ledger:cases", shown(result["items"], actor))
        return result

    @router.get("/ledgers/{kind}", summary="Any ledger: cases, children (适龄儿童少年), suspected (疑似辍学)")
    def any_ledger(
        request: Request, actor: CurrentActor, kind: Annotated[str, Path(pattern="^(cases|children|suspected)$")],
        reader: Annotated[Reader, reading("reporting")],
        sort: Annotated[str | None, Query(max_length=32)] = None,
        as_of: Annotated[date | None, Query()] = None,
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
        page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> dict[str, Any]:
        filters, at = checked(actor, request, kind, as_of)
        try:
            result = queries.ledger(scope_of(actor), filters, page, page_size, sort, kind, at)
        except KeyError as exc:
            raise HTTPException(422, detail={"code": "bad_sort", "message": f"不支持的排序字段 {sort}"}) from exc
        reader.viewed(f"ledger:{kind}", shown(result["items"], actor))
        return result

    @router.get("/ledgers/{kind}/export", summary="A ledger as CSV or XLSX (all rows that match, masked)")
    def export(
        request: Request, actor: CurrentActor, kind: Annotated[str, Path(pattern="^(cases|children|suspected)$")],
        reader: Annotated[Reader, reading("reporting")],
        format: Annotated[str, Query(pattern="^(csv|xlsx)$")] = "csv",
        sort: Annotated[str | None, Query(max_length=32)] = None,
        as_of: Annotated[date | None, Query()] = None,
    ) -> Response:
        filters, at = checked(actor, request, kind, as_of)
        try:
            result = queries.ledger(scope_of(actor), filters, 1, EXPORT_LIMIT, sort, kind, at)
        except KeyError as exc:
            raise HTTPException(422, detail={"code": "bad_sort", "message": f"不支持的排序字段 {sort}"}) from exc
        spec = KINDS[kind]
        caption = exports.caption(spec, result["positions"], actor.jurisdiction)
        stamp = (as_of or runtime.clock.today()).isoformat()
        if format == "csv":
            body, media = exports.to_csv(spec, result["items"], caption), "text/csv; charset=utf-8"
        else:
            body = exports.to_xlsx(spec, result["items"], caption)
            media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        reader.viewed(f"ledger_export:{kind}", shown(result["items"], actor))
        filename = f"{kind}-{actor.jurisdiction}-{stamp}.{format}"
        return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @router.get("/cases/{case_id}/timeline", summary="A case and its steps as known at the end of a day")
    def timeline(case_id: Annotated[str, Path(max_length=64)], actor: CurrentActor,
                 reader: Annotated[Reader, reading("supervision")],
                 as_of: Annotated[date | None, Query()] = None) -> dict[str, Any]:
        found = queries.case(scope_of(actor), case_id, cut(as_of, runtime.clock.today()))
        if found is None:
            raise HTTPException(404, detail={"code": "not_found", "message": f"个案 {case_id} 不存在或不在您的辖区（或当时尚未立案）"})
        row = found["case"]
        reader.viewed("case_timeline", [Subject(row["township_code"], student_id=row["student_id"], case_id=case_id)])
        return found

    def _dashboard(actor: Any, code: str, school_id: str | None, as_of: date | None) -> dict[str, Any]:
        if not code.startswith(actor.jurisdiction) and not (school_id is None and actor.jurisdiction.startswith(code)):
            require_overlap(actor, code, "辖区")
        with queries.view(cut(as_of, runtime.clock.today())) as view:
            result = dashboards.dashboard(view, scope_of(actor), code, school_id, targets)
        if result is None:
            raise HTTPException(404, detail={"code": "not_found", "message": f"{code} 暂无学校或案件数据"})
        return result

    @router.get("/dashboard/counties", response_model=CountiesPublic, include_in_schema=False)
    def counties(actor: CurrentActor) -> dict[str, Any]:
        with queries.view() as view:
            units, _ = dashboards.leaves(view, scope_of(actor))
            codes = sorted({t[:6] for t, _ in units if len(t) >= 6})
            rows = []
            for c in codes:
                u = dashboards.unit_of(units, c).counts
                rows.append({"county_code": c, "open_suspected_dropouts": u["open_suspected_dropouts"],
                             "cases": u["cases"]})
        return {"counties": rows, "as_of": view.positions["topics"]}

    @router.get("/dashboard/counties/{county_code}", response_model=CountyPublic,
                summary="One county with its townships (walking-skeleton shape, kept for its clients)")
    def county(county_code: Annotated[str, Path(pattern=COUNTY)], actor: CurrentActor) -> dict[str, Any]:
        require_overlap(actor, county_code, "县")
        result = _dashboard(actor, county_code, None, None)
        f = result["figures"]
        return {
            "county_code": county_code, "open_suspected_dropouts": f["open_suspected_dropouts"], "cases": f["cases"],
            "townships": [{"township_code": c["code"], "open_suspected_dropouts": c["figures"]["open_suspected_dropouts"],
                           "cases": c["figures"]["cases"]} for c in result["children"] if c["figures"]["cases"]],
            "as_of": result["positions"]["topics"], "figures": f,
        }

    @router.get("/dashboard/{code}", summary="Figures of a province, prefecture, county or township and its children")
    def dashboard(code: Annotated[str, Path(pattern=CODE)], actor: CurrentActor,
                  as_of: Annotated[date | None, Query()] = None) -> dict[str, Any]:
        return _dashboard(actor, code, None, as_of)

    @router.get("/dashboard/{township_code}/schools/{school_id}", summary="Figures of one school")
    def school_dashboard(township_code: Annotated[str, Path(pattern=TOWNSHIP)], school_id: str, actor: CurrentActor,
                         as_of: Annotated[date | None, Query()] = None) -> dict[str, Any]:
        return _dashboard(actor, township_code, school_id, as_of)

    app.state.read_audit = ReadAudit(runtime.db, runtime.clock)
    app.include_router(router)
    app.include_router(reads_router())
    from services.reporting import api_bi, pages

    api_bi.mount(app, queries)
    if reports is not None:
        from services.reporting import api_reports

        api_reports.mount(app, reports)
    pages.mount(app)
    return seal(app)
