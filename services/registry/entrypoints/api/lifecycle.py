"""学籍变动 routes: transfer, suspension, graduation, 小升初, placement, school closure (the caller's jurisdiction)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import Field

from services.registry.application.registry import Registry
from services.registry.entrypoints.api.bodies import _Body
from services.runtime.auth import CurrentActor, require_scope
from services.runtime.validation import SafeId, SafeLine, SafeText
from services.runtime.web import CommandMeta


class TransferOut(_Body):
    on: date
    reason: SafeText = Field(min_length=1, max_length=200)
    to_school_id: SafeId | None = None
    to_region_code: SafeId | None = None


class TransferIn(_Body):
    on: date
    school_id: UUID
    grade: int = Field(ge=1, le=9)
    class_name: SafeLine = Field(min_length=1, max_length=50)


class Suspend(_Body):
    on: date
    reason: SafeText = Field(min_length=1, max_length=200)
    until: date | None = None
    approval_ref: SafeId = Field(min_length=1, max_length=100, description="审批文号")


class Resume(_Body):
    on: date
    grade: int | None = Field(None, ge=1, le=9)
    class_name: SafeLine | None = None


class Graduate(_Body):
    on: date
    level: Literal["primary", "junior"]


class Admit(_Body):
    on: date
    school_id: UUID
    class_name: SafeLine = Field(min_length=1, max_length=50)


class Place(_Body):
    on: date
    placement: Literal["regular_class", "special_school", "home_delivery"]
    school_id: UUID
    disability_degree: Literal["1", "2", "3", "4"] | None = None


class SchoolClose(_Body):
    on: date
    reason: SafeText = Field(min_length=1, max_length=200)
    merged_into: SafeId | None = None


def lifecycle_router(registry: Registry) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["registry"])

    def scoped_student(actor: Any, student_id: UUID) -> None:
        require_scope(actor, registry.registration.student(student_id).township_code, "学生")


    def act(action: str, student_id: UUID, body: _Body, actor: Any, meta: dict[str, Any]) -> dict[str, Any]:
        scoped_student(actor, student_id)
        fields = body.model_dump()
        if "school_id" in fields:
            require_scope(actor, registry.registration.school(fields["school_id"]).township_code, "学校")
        return asdict(getattr(registry.lifecycle, action)(student_id, meta=meta, **fields))

    @router.post("/students/{student_id}/transfer-out", summary="转出")
    def transfer_out(student_id: UUID, body: TransferOut, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        return act("transfer_out", student_id, body, actor, meta)

    @router.post("/students/{student_id}/transfer-in", summary="转入 (by the receiving school, any jurisdiction)")
    def transfer_in(student_id: UUID, body: TransferIn, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        require_scope(actor, registry.registration.school(body.school_id).township_code, "接收学校")
        return asdict(registry.lifecycle.transfer_in(student_id, meta=meta, **body.model_dump()))

    @router.post("/students/{student_id}/suspend", summary="休学")
    def suspend(student_id: UUID, body: Suspend, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        return act("suspend", student_id, body, actor, meta)

    @router.post("/students/{student_id}/resume", summary="复学")
    def resume(student_id: UUID, body: Resume, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        return act("resume", student_id, body, actor, meta)

    @router.post("/students/{student_id}/graduate", summary="毕业")
    def graduate(student_id: UUID, body: Graduate, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        return act("graduate", student_id, body, actor, meta)

    @router.post("/students/{student_id}/admit", summary="小升初: registered at a junior school")
    def admit(student_id: UUID, body: Admit, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        require_scope(actor, registry.registration.school(body.school_id).township_code, "初中学校")
        return asdict(registry.lifecycle.admit(student_id, meta=meta, **body.model_dump()))

    @router.post("/students/{student_id}/place", summary="残疾儿童安置 (随班就读/特教学校/送教上门)")
    def place(student_id: UUID, body: Place, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        return act("place", student_id, body, actor, meta)

    @router.post("/schools/{school_id}/close", status_code=204, summary="撤并")
    def close_school(school_id: UUID, body: SchoolClose, actor: CurrentActor, meta: CommandMeta) -> None:
        require_scope(actor, registry.registration.school(school_id).township_code, "学校")
        registry.lifecycle.close_school(school_id, meta=meta, **body.model_dump())


    return router
