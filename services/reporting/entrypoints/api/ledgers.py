"""Ledger routes: the walking-skeleton ledger, any ledger, its export, a case timeline; each view is read-audited."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from services.reporting.adapters.ledgers import KINDS
from services.reporting.adapters.queries import LedgerFilter
from services.reporting.application.reading import Reading
from services.reporting.entrypoints.api.schemas import LedgerPage
from services.runtime.auth import CurrentActor
from services.runtime.readaudit import Reader, Subject, reading

COUNTY = r"^[0-9]{6}$"
TOWNSHIP = r"^[0-9]{9}$"
CODE = r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3})?)?)?$"


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


def router(reads: Reading) -> APIRouter:
    """The ledger routes over the reading use cases."""
    api = APIRouter(prefix="/v1", tags=["reporting"])

    @api.get("/ledger", response_model=LedgerPage, summary="控辍保学台账: one row per case")
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
        result = reads.ledger(actor, "cases", ledger_filters(request, "cases"), page, page_size, sort, as_of)
        reader.viewed("ledger:cases", shown(result["items"], actor))
        return result

    @api.get("/ledgers/{kind}", summary="Any ledger: cases, children (适龄儿童少年), suspected (疑似辍学)")
    def any_ledger(
        request: Request, actor: CurrentActor, kind: Annotated[str, Path(pattern="^(cases|children|suspected)$")],
        reader: Annotated[Reader, reading("reporting")],
        sort: Annotated[str | None, Query(max_length=32)] = None,
        as_of: Annotated[date | None, Query()] = None,
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
        page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> dict[str, Any]:
        result = reads.ledger(actor, kind, ledger_filters(request, kind), page, page_size, sort, as_of)
        reader.viewed(f"ledger:{kind}", shown(result["items"], actor))
        return result

    @api.get("/ledgers/{kind}/export", summary="A ledger as CSV or XLSX (all rows that match, masked)")
    def export(
        request: Request, actor: CurrentActor, kind: Annotated[str, Path(pattern="^(cases|children|suspected)$")],
        reader: Annotated[Reader, reading("reporting")],
        format: Annotated[str, Query(pattern="^(csv|xlsx)$")] = "csv",
        sort: Annotated[str | None, Query(max_length=32)] = None,
        as_of: Annotated[date | None, Query()] = None,
    ) -> Response:
        file = reads.export(actor, kind, ledger_filters(request, kind), format, sort, as_of)
        reader.viewed(f"ledger_export:{kind}", shown(file.items, actor))
        return Response(file.body, media_type=file.media_type,
                        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'})

    @api.get("/cases/{case_id}/timeline", summary="A case and its steps as known at the end of a day")
    def timeline(case_id: Annotated[str, Path(max_length=64)], actor: CurrentActor,
                 reader: Annotated[Reader, reading("supervision")],
                 as_of: Annotated[date | None, Query()] = None) -> dict[str, Any]:
        found = reads.case(actor, case_id, as_of)
        row = found["case"]
        reader.viewed("case_timeline", [Subject(row["township_code"], student_id=row["student_id"], case_id=case_id)])
        return found

    return api
