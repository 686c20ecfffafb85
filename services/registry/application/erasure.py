"""依法删除: record who asked and on which basis, then destroy every data key of the child (crypto-shredding)."""

from __future__ import annotations

from typing import Any

from services.registry.application.base import UseCase
from services.registry.application.ports import KeyShredder, ReadModel
from services.registry.application.store import RegistryApp
from services.registry.domain.erasure import LEGAL_BASES, Erasure, erasure_id_for
from services.registry.domain.errors import Conflict, InvalidInput, NotFound


class Erasures(UseCase):
    """Erases a child inside the caller's jurisdiction."""

    def __init__(self, store: RegistryApp, index: ReadModel, data_keys: KeyShredder) -> None:
        super().__init__(store, index)
        self.data_keys = data_keys

    def erase_child(self, prefix: str, student_id: str, *, legal_basis: str, reference: str, approved_by: str,
                    meta: dict[str, Any]) -> dict[str, Any]:
        if legal_basis not in LEGAL_BASES:
            raise InvalidInput(f"删除的法律依据无效: {legal_basis}", rule="legal_basis")
        if approved_by.strip() == (meta.get("actor_id") or ""):
            raise InvalidInput("删除须由申请人以外的人员审批 (approver must not be the requester)",
                               rule="erasure_approver")
        index = self.index
        index.catch_up(self.store)
        student = index.get("student_index", student_id)
        children = [r for _, r in index.where("child_index", student_id=student_id)]
        codes = [r["township_code"] for r in ([student] if student else []) + children if r.get("township_code")]
        if not codes or not any(c.startswith(prefix) for c in codes):
            raise NotFound("没有该儿童", rule="child_exists")  # out of scope looks the same as absent
        existing = self._get(Erasure, erasure_id_for(student_id))
        if existing is None:
            township = next(c for c in codes if c.startswith(prefix))
            existing = Erasure(student_id=student_id, legal_basis=legal_basis, reference=reference,
                               approved_by=approved_by, township_code=township, meta=meta)
            self.store.save(existing)
        elif existing.legal_basis != legal_basis or existing.reference != reference:
            raise Conflict("该儿童已按其他依据删除", rule="erasure_recorded")
        destroyed = self.data_keys.erase(student_id)  # after the event: retried
        index.catch_up(self.store)
        return {"student_id": student_id, "erased": True, "legal_basis": existing.legal_basis,
                "reference": existing.reference, "approved_by": existing.approved_by,
                "data_keys_destroyed": destroyed}


