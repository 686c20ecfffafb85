"""Erasure of a child's personal data (依法删除, crypto-shredding): the event, the use case and its route.

An `Erasure` aggregate records who asked, on which legal basis (PIPL art. 47) and who approved; then every
data key of the child (its registration, its population record, its findings) is destroyed, so the sealed
personal values in every stored event and every backup of them can no longer be opened. Codes, statuses,
dates and counts stay (the child still counts where it counted; hash chains elsewhere hold no personal data);
`StudentErased.v1` tells the other services to drop the masked forms they keep.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.registry import pseudonyms
from services.registry.domain import Conflict, InvalidInput, NotFound
from services.runtime.auth import CurrentActor
from services.runtime.web import CommandMeta

# PIPL (个人信息保护法) art. 47 grounds for deletion, and a court or supervisory order
LEGAL_BASES = ("purpose_fulfilled", "retention_expired", "consent_withdrawn", "unlawful_processing", "order")


def erasure_id_for(student_id: str) -> uuid.UUID:
    return pseudonyms.keyed_uuid("erasure", student_id)


class Erasure(Aggregate):
    """One child's erasure: legal basis, reference, approver and actor (no personal data)."""

    @event("Recorded")
    def __init__(self, student_id: str, legal_basis: str, reference: str, approved_by: str, township_code: str,
                 meta: dict[str, Any]):
        self.student_id = student_id
        self.legal_basis = legal_basis
        self.reference = reference
        self.approved_by = approved_by
        self.township_code = township_code
        self.meta = meta

    @staticmethod
    def create_id(student_id: str, **_: Any) -> uuid.UUID:
        return erasure_id_for(student_id)


class ErasureUseCases:
    """Mixed into `RegistryApp`: erase a child inside the caller's jurisdiction."""

    def erase_child(self, prefix: str, student_id: str, *, legal_basis: str, reference: str, approved_by: str,
                    meta: dict[str, Any]) -> dict[str, Any]:
        if legal_basis not in LEGAL_BASES:
            raise InvalidInput(f"删除的法律依据无效: {legal_basis}", rule="legal_basis")
        if approved_by.strip() == (meta.get("actor_id") or ""):
            raise InvalidInput("删除须由申请人以外的人员审批 (approver must not be the requester)",
                               rule="erasure_approver")
        index = self.index  # type: ignore[attr-defined]
        index.catch_up(self)
        student = index.get("student_index", student_id)
        children = [r for _, r in index.where("child_index", student_id=student_id)]
        codes = [r["township_code"] for r in ([student] if student else []) + children if r.get("township_code")]
        if not codes or not any(c.startswith(prefix) for c in codes):
            raise NotFound("没有该儿童", rule="child_exists")  # out of scope looks the same as absent
        existing = self._get(Erasure, erasure_id_for(student_id))  # type: ignore[attr-defined]
        if existing is None:
            township = next(c for c in codes if c.startswith(prefix))
            existing = Erasure(student_id=student_id, legal_basis=legal_basis, reference=reference,
                               approved_by=approved_by, township_code=township, meta=meta)
            self.save(existing)  # type: ignore[attr-defined]
        elif existing.legal_basis != legal_basis or existing.reference != reference:
            raise Conflict("该儿童已按其他依据删除", rule="erasure_recorded")
        destroyed = self.data_keys.erase(student_id)  # type: ignore[attr-defined]  # after the event: retried
        index.catch_up(self)
        return {"student_id": student_id, "erased": True, "legal_basis": existing.legal_basis,
                "reference": existing.reference, "approved_by": existing.approved_by,
                "data_keys_destroyed": destroyed}


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    legal_basis: Literal["purpose_fulfilled", "retention_expired", "consent_withdrawn", "unlawful_processing", "order"]
    reference: str = Field(min_length=1, max_length=100, description="审批/决定文号")
    approved_by: str = Field(min_length=1, max_length=100, description="审批人 (not the requester)")


def erasure_router(registry: Any) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["registry"])

    @router.post("/students/{student_id}/erasure", summary="依法删除: destroy a child's data keys (county officer)")
    def erase(student_id: UUID, body: ErasureRequest, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        return registry.erase_child(actor.jurisdiction, str(student_id), meta=meta, **body.model_dump())

    return router
