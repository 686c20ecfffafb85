"""Casework HTTP API: the app, and cases (一人一案) scoped to the caller's jurisdiction, with their history."""

# No `from __future__ import annotations`: the page-size bound is a closure value FastAPI must see.
import base64
import binascii
import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Header, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from services.casework.adapters.photos_pg import PostgresPhotos
from services.casework.application import CaseView, CaseworkApp, case_view
from services.casework.domain import NAMESPACE, STAGES, InvalidInput
from services.casework.entrypoints.api.actions import action_router
from services.casework.entrypoints.api.audit import audit_router
from services.casework.entrypoints.api.documents import documents_router
from services.casework.entrypoints.api.field import field_router
from services.casework.entrypoints.api.owners import owners_router
from services.casework.entrypoints.web import mount as mount_field_page
from services.casework.roles import MATRIX
from services.runtime.auth import Actor, CurrentActor, require_scope
from services.runtime.bootstrap import Runtime, base_app
from services.runtime.readaudit import ReadAudit, Reader, Subject, reading, reads_router
from services.runtime.validation import SafeId, SafeText
from services.runtime.web import CommandMeta, seal

Stage = Literal[STAGES]  # type: ignore[valid-type]
LocalCode = Annotated[str, Field(pattern=r"^[0-9]{9}([0-9]{3})?$", description="9-digit township or 12-digit village code")]


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    student_id: SafeId = Field(min_length=1, max_length=64, description="Opaque student id (from the registry)")
    township_code: LocalCode
    school_id: SafeId | None = Field(None, min_length=1, max_length=64)
    note: SafeText = Field(min_length=1, max_length=2000, description="What the reporter saw (情况说明)")
    report_id: SafeId | None = Field(
        None, min_length=1, max_length=64, description="Client-chosen id of this report; a retry with it is harmless"
    )


class CasePublic(BaseModel):
    case_id: str
    student_id: str
    school_id: str | None
    township_code: str
    source: str
    stage: str
    trigger_id: str
    trigger_ids: list[str]
    evidence: dict[str, Any]
    opened_at: datetime
    version: int
    owners: list[dict[str, Any]] = Field(default_factory=list, description="双线四包: named owners by slot")
    home: dict[str, Any] | None = None
    verification: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None
    records: list[dict[str, Any]] = Field(default_factory=list, description="Work records (kind, id, time, actor)")
    ladder: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Legal steps taken")
    timers: list[dict[str, Any]] = Field(default_factory=list, description="Deadlines and their status")
    returned: dict[str, Any] | None = None
    pending_closure: dict[str, Any] | None = None
    closure: dict[str, Any] | None = None
    exclusion: dict[str, Any] | None = None
    relapses: int = 0
    retracted_trigger_ids: list[str] = Field(default_factory=list)
    next_action: str | None = None
    next_due_at: datetime | None = None


class CaseReceipt(BaseModel):
    """The answer to a report: whether it opened a case, joined the open one, or was already received."""

    outcome: Literal["opened", "attached", "duplicate"]
    case_id: str
    case: CasePublic | None = Field(None, description="Absent when the child's open case lies outside your jurisdiction")


class CaseSummaryPublic(BaseModel):
    case_id: str
    student_id: str
    school_id: str | None
    township_code: str
    source: str
    stage: str
    opened_at: datetime
    next_action: str | None = None
    next_due_at: datetime | None = None


class CasePage(BaseModel):
    items: list[CaseSummaryPublic]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; absent on the last page")


class HistoryEntryPublic(BaseModel):
    version: int
    event: str
    at: str | None = Field(description="Business time the fact happened")
    recorded_at: datetime = Field(description="When the event was stored")
    actor_id: str | None
    actor_role: str | None
    jurisdiction: str | None
    correlation_id: str | None
    causation_id: str | None
    data: dict[str, Any]
    chain: str | None = Field(None, description="The event's seal in the case's hash chain")


def encode_cursor(opened_at: datetime, case_id: str) -> str:
    return base64.urlsafe_b64encode(f"{opened_at.isoformat()}|{case_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, case_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at), case_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("分页游标无效", rule="cursor_valid") from exc


def scope_prefix(actor: Actor, township_code: str | None) -> str:
    """The narrower of the caller's jurisdiction and the requested code; 403 when they do not overlap."""
    if township_code is None or actor.jurisdiction.startswith(township_code):
        return actor.jurisdiction
    require_scope(actor, township_code, "查询的行政区划")
    return township_code


def report_trigger_id(actor: Actor, report_id: str | None, idempotency_key: str | None) -> str:
    """The report's identity: the client's report id, else its Idempotency-Key scoped to the caller."""
    if report_id:
        return report_id
    if idempotency_key:
        return str(uuid.uuid5(NAMESPACE, f"report:{actor.user_id}:{idempotency_key}"))
    raise HTTPException(
        status.HTTP_400_BAD_REQUEST,
        detail={"code": "idempotency_key_required", "message": "请提供 Idempotency-Key 请求头或 report_id，以便安全重试"},
    )


def create_app(runtime: Runtime, casework: CaseworkApp, *, page_size_max: int = 200,
               photo_max_bytes: int = 8_000_000) -> FastAPI:
    """The casework API bound to its application."""
    app = base_app(
        runtime,
        title="Baoxue casework (一人一案)",
        description="Cases of children out of school, from suspicion to closure. Every call needs a bearer token.",
        roles=MATRIX,
    )
    router = APIRouter(prefix="/v1", tags=["casework"])

    def visible_case(case_id: uuid.UUID, actor: Actor) -> Any:
        case = casework.queries.case(case_id)
        require_scope(actor, case.township_code, "案件")
        return case

    @router.post("/cases", response_model=CaseReceipt, status_code=201, responses={200: {"model": CaseReceipt}})
    def report_case(
        body: CaseCreate,
        actor: CurrentActor,
        meta: CommandMeta,
        response: Response,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128)] = None,
    ) -> CaseReceipt:
        require_scope(actor, body.township_code, "报告的乡镇或村")
        outcome, case = casework.opening.report_case(
            report_id=report_trigger_id(actor, body.report_id, idempotency_key),
            student_id=body.student_id,
            township_code=body.township_code,
            school_id=body.school_id,
            note=body.note,
            meta=meta,
        )
        response.status_code = 201 if outcome == "opened" else 200
        response.headers["Location"] = f"/v1/cases/{case.id}"
        shown = CasePublic(**asdict(case_view(case))) if actor.covers(case.township_code) else None
        return CaseReceipt(outcome=outcome, case_id=str(case.id), case=shown)

    @router.get("/cases", response_model=CasePage)
    def list_cases(
        actor: CurrentActor,
        township_code: Annotated[str | None, Query(pattern=r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3}([0-9]{3})?)?)?)?$")] = None,
        stage: Stage | None = None,
        limit: Annotated[int, Query(ge=1, le=page_size_max)] = 50,
        cursor: str | None = None,
    ) -> CasePage:
        prefix = scope_prefix(actor, township_code)
        after = decode_cursor(cursor) if cursor else None
        rows = casework.queries.cases_for_jurisdiction(prefix, stage=stage, limit=limit + 1, after=after)
        page = rows[:limit]
        next_cursor = encode_cursor(page[-1].opened_at, page[-1].case_id) if len(rows) > limit else None
        items = [CaseSummaryPublic(**{k: v for k, v in asdict(r).items() if k != "version"}) for r in page]
        return CasePage(items=items, next_cursor=next_cursor)

    @router.get("/cases/{case_id}", response_model=CasePublic)
    def get_case(case_id: uuid.UUID, actor: CurrentActor, reader: Annotated[Reader, reading("casework")]) -> CaseView:
        case = visible_case(case_id, actor)
        reader.viewed("case", [case_subject(case)])
        return case_view(case)

    @router.get("/cases/{case_id}/history", response_model=list[HistoryEntryPublic])
    def case_history(case_id: uuid.UUID, actor: CurrentActor,
                     reader: Annotated[Reader, reading("casework")]) -> list[HistoryEntryPublic]:
        case = visible_case(case_id, actor)
        entries = [HistoryEntryPublic(**asdict(e)) for e in casework.queries.case_history(case_id)]
        reader.viewed("case_timeline", [case_subject(case)])
        return entries

    app.state.read_audit = ReadAudit(runtime.db, runtime.clock)
    app.include_router(router)
    app.include_router(action_router(casework, CasePublic))
    app.include_router(owners_router(casework))
    app.include_router(audit_router(casework, CasePublic))
    app.include_router(documents_router(casework))
    app.include_router(reads_router())
    app.include_router(field_router(casework, PostgresPhotos(runtime.db), case_subject, max_bytes=photo_max_bytes))
    mount_field_page(app)
    return seal(app)


def case_subject(case: Any) -> Subject:
    """Whose data a view of a case shows: the child and the case, in the case's own jurisdiction."""
    return Subject(case.township_code, student_id=case.student_id, case_id=str(case.id))
