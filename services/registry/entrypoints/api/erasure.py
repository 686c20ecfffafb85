"""The erasure route (依法删除): a county officer destroys a child's data keys, with legal basis and approver."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.registry.application.registry import Registry
from services.runtime.auth import CurrentActor
from services.runtime.web import CommandMeta


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    legal_basis: Literal["purpose_fulfilled", "retention_expired", "consent_withdrawn", "unlawful_processing", "order"]
    reference: str = Field(min_length=1, max_length=100, description="审批/决定文号")
    approved_by: str = Field(min_length=1, max_length=100, description="审批人 (not the requester)")


def erasure_router(registry: Registry) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["registry"])

    @router.post("/students/{student_id}/erasure", summary="依法删除: destroy a child's data keys (county officer)")
    def erase(student_id: UUID, body: ErasureRequest, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        return registry.erasure.erase_child(actor.jurisdiction, str(student_id), meta=meta, **body.model_dump())

    return router
