"""Monthly report HTTP routes: list, read, download, submit, approve, send back; sealing for admins."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.reporting.adapters import exports
from services.reporting.application.monthly import MonthlyReports
from services.reporting.application.reading import scope_of
from services.runtime.auth import CurrentActor
from services.runtime.validation import SafeText

MONTH = r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$"
FLAT = ("enrolled_primary", "enrolled_junior", "cases", "open_suspected_dropouts", "confirmed_dropouts", "returned",
        "closed", "overdue_deadlines", "dropout_rate_primary", "dropout_rate_junior", "return_rate",
        "median_days_to_return", "out_of_school", "transfer_lost", "transition_missed")


class SendBack(BaseModel):
    reason: SafeText = Field(min_length=1, max_length=500)


def router(reports: MonthlyReports) -> APIRouter:
    """The monthly report routes over their use cases (domain errors answer with their own status)."""
    api = APIRouter(prefix="/v1/reports", tags=["monthly reports"])

    def scope_root(actor: Any) -> str:
        return actor.jurisdiction if actor.role != "admin" else ""

    @api.get("", summary="Monthly reports inside the caller's jurisdiction")
    def list_reports(actor: CurrentActor, month: Annotated[str | None, Query(pattern=MONTH)] = None) -> dict[str, Any]:
        return {"items": reports.list(scope_of(actor), month)}

    @api.post("/seal", summary="Seals a month for every unit not sealed yet (normally the scheduler)")
    def seal(actor: CurrentActor, month: Annotated[str, Query(pattern=MONTH)]) -> dict[str, Any]:
        return {"sealed": reports.seal(month, scope_root(actor))}

    @api.post("/restate", summary="Compares sealed reports with what is known now; records restatements")
    def restate(actor: CurrentActor, month: Annotated[str, Query(pattern=MONTH)]) -> dict[str, Any]:
        return {"restated": reports.restate(month, scope_root(actor))}

    @api.get("/{report_id}", summary="One report: sealed figures, hash, positions, restatements, history")
    def read(report_id: Annotated[str, Path(max_length=64)], actor: CurrentActor) -> dict[str, Any]:
        return reports.get(report_id, actor)

    @api.get("/{report_id}/download", summary="The report as JSON or CSV (sealed and current figures)")
    def download(report_id: Annotated[str, Path(max_length=64)], actor: CurrentActor,
                 format: Annotated[str, Query(pattern="^(json|csv)$")] = "csv") -> Response:
        r = reports.get(report_id, actor)
        name = f"monthly-{r['month']}-{r['unit'].replace(':', '-')}.{format}"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        if format == "json":
            return Response(json.dumps(r, ensure_ascii=False, indent=2), media_type="application/json", headers=headers)
        return Response(exports.monthly_csv(r, FLAT), media_type="text/csv; charset=utf-8", headers=headers)

    @api.post("/{report_id}/submit", summary="本级上报 (the report's own jurisdiction or school)")
    def submit(report_id: Annotated[str, Path(max_length=64)], actor: CurrentActor) -> dict[str, Any]:
        return reports.submit(report_id, actor)

    @api.post("/{report_id}/approve", summary="上级审核通过 (only after every child report is approved)")
    def approve(report_id: Annotated[str, Path(max_length=64)], actor: CurrentActor) -> dict[str, Any]:
        return reports.approve(report_id, actor)

    @api.post("/{report_id}/send-back", summary="上级退回 for correction")
    def send_back(report_id: Annotated[str, Path(max_length=64)], body: SendBack, actor: CurrentActor) -> dict[str, Any]:
        return reports.send_back(report_id, actor, body.reason)

    return api
