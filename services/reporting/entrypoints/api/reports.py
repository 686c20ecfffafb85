"""Monthly report HTTP routes: list, read, download, submit, approve, send back; sealing for admins."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.reporting import exports
from services.reporting.access import scope_of
from services.reporting.monthly.application import MonthlyReports
from services.reporting.monthly.domain import ReportError
from services.runtime.auth import CurrentActor
from services.runtime.validation import SafeText

MONTH = r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$"
FLAT = ("enrolled_primary", "enrolled_junior", "cases", "open_suspected_dropouts", "confirmed_dropouts", "returned",
        "closed", "overdue_deadlines", "dropout_rate_primary", "dropout_rate_junior", "return_rate",
        "median_days_to_return", "out_of_school", "transfer_lost", "transition_missed")


class SendBack(BaseModel):
    reason: SafeText = Field(min_length=1, max_length=500)


def _rule(exc: ReportError) -> HTTPException:
    code = 403 if exc.rule in ("submit_own", "approve_from_above", "out_of_jurisdiction_read") else 409
    return HTTPException(code, detail={"code": exc.code, "message": str(exc), "rule": exc.rule})


def mount(app: FastAPI, reports: MonthlyReports) -> None:
    router = APIRouter(prefix="/v1/reports", tags=["monthly reports"])

    def get(rid: str, actor: Any) -> dict[str, Any]:
        try:
            return reports.get(rid, actor)
        except LookupError as exc:
            raise HTTPException(404, detail={"code": "not_found", "message": str(exc)}) from exc
        except ReportError as exc:
            raise _rule(exc) from exc

    @router.get("", summary="Monthly reports inside the caller's jurisdiction")
    def list_reports(actor: CurrentActor, month: Annotated[str | None, Query(pattern=MONTH)] = None) -> dict[str, Any]:
        return {"items": reports.list(scope_of(actor), month)}

    @router.post("/seal", summary="Seals a month for every unit not sealed yet (normally the scheduler)")
    def seal(actor: CurrentActor, month: Annotated[str, Query(pattern=MONTH)]) -> dict[str, Any]:
        return {"sealed": reports.seal(month, actor.jurisdiction if actor.role != "admin" else "")}

    @router.post("/restate", summary="Compares sealed reports with what is known now; records restatements")
    def restate(actor: CurrentActor, month: Annotated[str, Query(pattern=MONTH)]) -> dict[str, Any]:
        return {"restated": reports.restate(month, actor.jurisdiction if actor.role != "admin" else "")}

    @router.get("/{report_id}", summary="One report: sealed figures, hash, positions, restatements, history")
    def read(report_id: Annotated[str, Path(max_length=64)], actor: CurrentActor) -> dict[str, Any]:
        return get(report_id, actor)

    @router.get("/{report_id}/download", summary="The report as JSON or CSV (sealed and current figures)")
    def download(report_id: Annotated[str, Path(max_length=64)], actor: CurrentActor,
                 format: Annotated[str, Query(pattern="^(json|csv)$")] = "csv") -> Response:
        r = get(report_id, actor)
        name = f"monthly-{r['month']}-{r['unit'].replace(':', '-')}.{format}"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        if format == "json":
            return Response(json.dumps(r, ensure_ascii=False, indent=2), media_type="application/json", headers=headers)
        return Response(exports.monthly_csv(r, FLAT), media_type="text/csv; charset=utf-8", headers=headers)

    def act(report_id: str, actor: Any, what: str, *args: Any) -> dict[str, Any]:
        try:
            return getattr(reports, what)(report_id, actor, *args)
        except LookupError as exc:
            raise HTTPException(404, detail={"code": "not_found", "message": str(exc)}) from exc
        except ReportError as exc:
            raise _rule(exc) from exc

    @router.post("/{report_id}/submit", summary="本级上报 (the report's own jurisdiction or school)")
    def submit(report_id: Annotated[str, Path(max_length=64)], actor: CurrentActor) -> dict[str, Any]:
        return act(report_id, actor, "submit")

    @router.post("/{report_id}/approve", summary="上级审核通过 (only after every child report is approved)")
    def approve(report_id: Annotated[str, Path(max_length=64)], actor: CurrentActor) -> dict[str, Any]:
        return act(report_id, actor, "approve")

    @router.post("/{report_id}/send-back", summary="上级退回 for correction")
    def send_back(report_id: Annotated[str, Path(max_length=64)], body: SendBack, actor: CurrentActor) -> dict[str, Any]:
        return act(report_id, actor, "send_back", body.reason)

    app.include_router(router)
