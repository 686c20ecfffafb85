"""Inspection routes (督导检查): plan, findings, rectification order/report/accept/reject, the tracker's reads,
alerts addressed to the caller's units, and the 通报 list as JSON or a printable PDF."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.reporting.adapters import notice_pdf
from services.reporting.application.inspections import Inspections
from services.runtime.auth import CurrentActor
from services.runtime.validation import BadInput, SafeId, SafeLine

CODE = r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3})?)?)?$"
SHA = r"^[0-9a-f]{64}$"
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128)]
InspectionId = Annotated[str, Path(max_length=64)]
FindingId = Annotated[str, Path(max_length=120)]


class Evidence(BaseModel):
    sha256: str = Field(pattern=SHA, description="SHA-256 of the evidence file (kept by the inspecting unit)")
    code: str = Field(max_length=32, description="Evidence kind: photo, document, ledger_extract, interview, "
                                                  "rectification_report")


class PlanBody(BaseModel):
    key: SafeId | None = Field(None, max_length=128, description="Client-chosen key; a retry with it is harmless "
                                                                  "(or Idempotency-Key)")
    code: str = Field(pattern=CODE, description="The jurisdiction inspected")
    title: SafeLine = Field(min_length=1, max_length=100)
    planned_on: date


class FindingBody(BaseModel):
    finding_id: SafeId = Field(min_length=1, max_length=64, description="Client-chosen; a retry is harmless")
    unit_code: str = Field(pattern=CODE, description="The unit found at fault (a school's: its township)")
    school_id: SafeId | None = Field(None, max_length=64)
    description_code: str = Field(max_length=32)
    severity: str = Field("general", max_length=16)
    evidence: list[Evidence] = Field(default_factory=list, max_length=50)


class OrderBody(BaseModel):
    deadline: date


class ReportBody(BaseModel):
    evidence: list[Evidence] = Field(min_length=1, max_length=50)


class RejectBody(BaseModel):
    reason_code: str = Field(max_length=32)
    new_deadline: date


def _evidence(items: list[Evidence]) -> list[dict[str, str]]:
    return [e.model_dump() for e in items]


def router(inspections: Inspections) -> APIRouter:
    """The inspection routes over their use cases (domain errors answer with their own status)."""
    api = APIRouter(prefix="/v1/inspections", tags=["inspections"])

    @api.post("", summary="Plans an inspection (督导检查计划) of a jurisdiction inside the caller's")
    def plan(body: PlanBody, actor: CurrentActor, idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
        key = body.key or idempotency_key
        if not key:
            raise BadInput(["body", "key"], "请提供 key 或 Idempotency-Key 请求头，以便安全重试")
        return inspections.plan(actor, key, body.code, body.title, body.planned_on)

    @api.get("/findings", summary="Findings of units inside the caller's jurisdiction (the tracker's table)")
    def findings(actor: CurrentActor,
                 status: Annotated[str | None, Query(pattern="^(open|pending|reported|accepted|overdue)$")] = None,
                 since: Annotated[date | None, Query()] = None,
                 until: Annotated[date | None, Query()] = None) -> dict[str, Any]:
        return {"items": inspections.findings(actor, status, since, until)}

    @api.get("/alerts", summary="Reminders and escalations addressed to the caller's units (the notification record)")
    def alerts(actor: CurrentActor) -> dict[str, Any]:
        return {"items": inspections.alerts(actor)}

    @api.get("/notice", summary="通报: the findings inside the caller's jurisdiction (and with a period, the "
                                "scorecard lists: bottom of the ranking, below target, 一票否决), as JSON or a PDF")
    def notice(actor: CurrentActor, format: Annotated[str, Query(pattern="^(json|pdf)$")] = "json",
               since: Annotated[date | None, Query()] = None,
               until: Annotated[date | None, Query()] = None,
               period: Annotated[str | None, Query(pattern=r"^\d{4}-((0[1-9]|1[0-2])|spring|autumn)$",
                                                   description="A scorecard period (YYYY-MM, YYYY-spring|autumn)")]
               = None) -> Any:
        rows = inspections.findings(actor, None, since, until)
        listing = notice_pdf.listing(rows, actor.jurisdiction, inspections.clock.today(),
                                     inspections.notice_scorecards(actor, period))
        if format == "json":
            return listing
        name = f"notice-{actor.jurisdiction}-{listing['date']}.pdf"
        return Response(notice_pdf.render(listing), media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @api.get("/{inspection_id}", summary="One inspection (a unit inside it sees its own findings)")
    def read(inspection_id: InspectionId, actor: CurrentActor) -> dict[str, Any]:
        return inspections.get(actor, inspection_id)

    @api.post("/{inspection_id}/findings", summary="Records a finding against a unit, with evidence hashes")
    def record(inspection_id: InspectionId, body: FindingBody, actor: CurrentActor) -> dict[str, Any]:
        return inspections.record_finding(actor, inspection_id, body.finding_id, body.unit_code, body.school_id,
                                          body.description_code, body.severity, _evidence(body.evidence))

    @api.post("/{inspection_id}/findings/{finding_id}/order", summary="限期整改: orders rectification by a deadline")
    def order(inspection_id: InspectionId, finding_id: FindingId, body: OrderBody,
              actor: CurrentActor) -> dict[str, Any]:
        return inspections.order(actor, inspection_id, finding_id, body.deadline)

    @api.post("/{inspection_id}/findings/{finding_id}/report", summary="The inspected unit reports its rectification")
    def report(inspection_id: InspectionId, finding_id: FindingId, body: ReportBody,
               actor: CurrentActor) -> dict[str, Any]:
        return inspections.report(actor, inspection_id, finding_id, _evidence(body.evidence))

    @api.post("/{inspection_id}/findings/{finding_id}/accept", summary="The inspecting level accepts the rectification")
    def accept(inspection_id: InspectionId, finding_id: FindingId, actor: CurrentActor) -> dict[str, Any]:
        return inspections.accept(actor, inspection_id, finding_id)

    @api.post("/{inspection_id}/findings/{finding_id}/reject",
              summary="The inspecting level rejects the rectification, with a new deadline")
    def reject(inspection_id: InspectionId, finding_id: FindingId, body: RejectBody,
               actor: CurrentActor) -> dict[str, Any]:
        return inspections.reject(actor, inspection_id, finding_id, body.reason_code, body.new_deadline)

    return api
