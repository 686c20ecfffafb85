"""Casework API: acting on a case — verification, owners, work records, legal steps, return, closure."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, status

from services.casework.application import CaseworkApp
from services.casework.application.views import case_view
from services.casework.domain import NAMESPACE
from services.casework.domain.codes import OWNER_SLOTS
from services.casework.entrypoints.api.schemas import (
    ClosureCreate,
    ClosureDecision,
    EvidenceCreate,
    ExclusionCreate,
    HelpCreate,
    HomeCreate,
    HomeVisitCreate,
    LegalStepCreate,
    OwnerUpdate,
    PersuasionCreate,
    PlanCreate,
    RetractionCreate,
    ReturnCreate,
    VerificationCreate,
)
from services.runtime.auth import Actor, CurrentActor, require_scope
from services.runtime.web import CommandMeta

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128)]


def record_id_for(actor: Actor, given: str | None, key: str | None) -> str:
    """A work record's identity: the client's record id, else its Idempotency-Key scoped to the caller."""
    if given:
        return given
    if key:
        return str(uuid.uuid5(NAMESPACE, f"record:{actor.user_id}:{key}"))
    raise HTTPException(status.HTTP_400_BAD_REQUEST, detail={
        "code": "idempotency_key_required", "message": "请提供 Idempotency-Key 请求头或 record_id，以便安全重试"})


def evidence(items: list[Any]) -> list[dict[str, Any]]:
    return [i.model_dump() for i in items]


def action_router(casework: CaseworkApp, case_public: Callable[..., Any]) -> APIRouter:
    """Routes that change a case; each checks the role, then the case's jurisdiction, then the domain's rules."""
    router = APIRouter(prefix="/v1/cases/{case_id}", tags=["casework: actions"])

    def scoped(case_id: uuid.UUID, actor: Actor) -> None:
        require_scope(actor, casework.queries.case(case_id).township_code, "案件")

    def shown(case: Any) -> Any:
        return case_public(**asdict(case_view(case)))

    def act(case_id: uuid.UUID, actor: Actor, command: str, **kwargs: Any) -> Any:
        scoped(case_id, actor)
        return shown(casework.cases.act(case_id, command, **kwargs))

    @router.post("/verification/start", summary="开始核查")
    def start_verification(case_id: uuid.UUID, actor: CurrentActor, meta: CommandMeta) -> Any:
        return act(case_id, actor, "start_verification", meta=meta)

    @router.post("/verification", summary="核查结论：非辍学（原因代码+证据）或确认辍学（原因分类）")
    def conclude_verification(case_id: uuid.UUID, body: VerificationCreate, actor: CurrentActor,
                              meta: CommandMeta) -> Any:
        if body.outcome == "not_dropout":
            return act(case_id, actor, "conclude_not_dropout", reason=body.reason or "",
                       finding=body.finding or "", evidence=evidence(body.evidence), meta=meta)
        return act(case_id, actor, "confirm_dropout", causes=body.causes,
                   cause_analysis=body.cause_analysis or "", meta=meta)

    @router.post("/home", summary="登记居住地（村、组），据此指派政府线责任人")
    def locate_home(case_id: uuid.UUID, body: HomeCreate, actor: CurrentActor, meta: CommandMeta) -> Any:
        scoped(case_id, actor)
        return shown(casework.cases.locate_home(case_id, body.village_code, body.group, meta))

    @router.post("/owners/auto", summary="按责任表补齐空缺的责任人")
    def auto_assign(case_id: uuid.UUID, actor: CurrentActor, meta: CommandMeta) -> Any:
        scoped(case_id, actor)
        return shown(casework.cases.assign_owners(case_id, meta))

    @router.put("/owners/{slot}", summary="调整责任人（保留历史）")
    def reassign(case_id: uuid.UUID, slot: str, body: OwnerUpdate, actor: CurrentActor, meta: CommandMeta) -> Any:
        if actor.role == "school_staff" and OWNER_SLOTS.get(slot, ("",))[0] != "education":
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail={
                "code": "forbidden_role", "message": "学校只能调整教育线责任人"})
        return act(case_id, actor, "reassign_owner", slot=slot, user_id=body.user_id, name=body.name,
                   reason=body.reason, meta=meta)

    @router.post("/visits", summary="家访记录")
    def home_visit(case_id: uuid.UUID, body: HomeVisitCreate, actor: CurrentActor, meta: CommandMeta,
                   idempotency_key: IdempotencyKey = None) -> Any:
        return act(case_id, actor, "record_home_visit",
                   record_id=record_id_for(actor, body.record_id, idempotency_key), visited_at=body.visited_at,
                   visitors=body.visitors, met=body.met, findings=body.findings, evidence=evidence(body.evidence),
                   meta=meta)

    @router.post("/persuasions", summary="劝返记录")
    def persuasion(case_id: uuid.UUID, body: PersuasionCreate, actor: CurrentActor, meta: CommandMeta,
                   idempotency_key: IdempotencyKey = None) -> Any:
        return act(case_id, actor, "record_persuasion",
                   record_id=record_id_for(actor, body.record_id, idempotency_key), method=body.method,
                   outcome=body.outcome, note=body.note, persuaders=body.persuaders, place=body.place,
                   with_whom=body.with_whom, meta=meta)

    @router.post("/help", summary="帮扶记录")
    def help_given(case_id: uuid.UUID, body: HelpCreate, actor: CurrentActor, meta: CommandMeta,
                   idempotency_key: IdempotencyKey = None) -> Any:
        return act(case_id, actor, "record_help",
                   record_id=record_id_for(actor, body.record_id, idempotency_key), help_type=body.help_type,
                   detail=body.detail, amount_yuan=body.amount_yuan, meta=meta)

    @router.post("/plans", summary="一人一案方案")
    def plan(case_id: uuid.UUID, body: PlanCreate, actor: CurrentActor, meta: CommandMeta,
             idempotency_key: IdempotencyKey = None) -> Any:
        return act(case_id, actor, "record_plan",
                   record_id=record_id_for(actor, body.record_id, idempotency_key), measures=body.measures,
                   target_return_on=body.target_return_on, meta=meta)

    @router.post("/evidence", summary="上传证据引用（文件摘要与存放位置）")
    def attach_evidence(case_id: uuid.UUID, body: EvidenceCreate, actor: CurrentActor, meta: CommandMeta,
                        idempotency_key: IdempotencyKey = None) -> Any:
        return act(case_id, actor, "attach_evidence",
                   record_id=record_id_for(actor, body.record_id, idempotency_key), evidence=evidence(body.evidence),
                   note=body.note, meta=meta)

    @router.post("/legal-steps", summary="依法控辍：复学通知书 → 责令限期改正 → 司法文书 → 提请法院")
    def legal_step(case_id: uuid.UUID, body: LegalStepCreate, actor: CurrentActor, meta: CommandMeta) -> Any:
        scoped(case_id, actor)
        return shown(casework.cases.take_legal_step(
            case_id, step=body.step, document_no=body.document_no, addressee=body.addressee, deadline=body.deadline,
            evidence=evidence(body.evidence), override_reason=body.override_reason, meta=meta))

    @router.post("/return", summary="学校确认复学")
    def confirm_return(case_id: uuid.UUID, body: ReturnCreate, actor: CurrentActor, meta: CommandMeta) -> Any:
        scoped(case_id, actor)
        return shown(casework.cases.confirm_return(case_id, body.returned_on, evidence(body.evidence), meta))

    @router.post("/closure", summary="销号（原因+证据；按配置报县级审批）")
    def close(case_id: uuid.UUID, body: ClosureCreate, actor: CurrentActor, meta: CommandMeta) -> Any:
        scoped(case_id, actor)
        return shown(casework.cases.close_case(case_id, reason=body.reason, evidence=evidence(body.evidence), note=body.note,
                                    meta=meta))

    @router.post("/closure/decision", summary="县教育局审批销号")
    def decide(case_id: uuid.UUID, body: ClosureDecision, actor: CurrentActor, meta: CommandMeta) -> Any:
        return act(case_id, actor, "decide_closure", approve=body.approve,
                   comment=body.comment, meta=meta)

    @router.post("/exclusion", summary="认定不计入辍学（重度残疾或重病无学习能力）")
    def exclude(case_id: uuid.UUID, body: ExclusionCreate, actor: CurrentActor, meta: CommandMeta) -> Any:
        return act(case_id, actor, "exclude_from_count", basis=body.basis, note=body.note,
                   evidence=evidence(body.evidence), meta=meta)

    @router.post("/retractions", summary="来源撤销触发事项（更正缺勤等）")
    def retract(case_id: uuid.UUID, body: RetractionCreate, actor: CurrentActor, meta: CommandMeta) -> Any:
        scoped(case_id, actor)
        return shown(casework.cases.change(case_id, lambda c: c.retract_trigger(body.trigger_id, body.reason, meta)))

    return router
