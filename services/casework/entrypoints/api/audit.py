"""Casework API for auditors: a case as of a past version or moment, and hash-chain verification."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from services.casework.application import CaseworkApp
from services.casework.application.audit import verify_case, verify_store
from services.casework.application.views import case_view
from services.casework.domain import InvalidInput, NotFound
from services.casework.entrypoints.api.schemas import (
    CaseAuditPublic,
    ChainProblemPublic,
    StoreAuditPublic,
)
from services.runtime.auth import Actor, CurrentActor, require_scope
from services.runtime.readaudit import Reader, Subject, reading



def is_store_wide(actor: Actor) -> bool:
    """The whole store (every case, also one whose opening is unreadable) is seen by admins and province auditors."""
    return actor.role == "admin" or (actor.role == "auditor" and len(actor.jurisdiction) == 2)


def require_store_wide(actor: Actor) -> None:
    """A case whose jurisdiction cannot be read is shown only store-wide (403 otherwise)."""
    if not is_store_wide(actor):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail={
            "code": "out_of_jurisdiction",
            "message": "案件开立记录无法读取，仅省级审计员可校验 (case opening unreadable: province auditors only)"})


def audit_router(casework: CaseworkApp, case_public: Callable[..., Any]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["casework: audit"])

    @router.get("/cases/{case_id}/as-of", summary="案件在某一版本或某一时刻的状态")
    def as_of(case_id: uuid.UUID, actor: CurrentActor, reader: Annotated[Reader, reading("audit")],
              version: Annotated[int | None, Query(ge=1)] = None, at: datetime | None = None) -> Any:
        current = casework.queries.case(case_id)
        require_scope(actor, current.township_code, "案件")
        if version is None and at is None:
            raise InvalidInput("请指定 version 或 at", rule="as_of.version_or_time")
        shown = case_public(**asdict(case_view(casework.queries.case_as_of(case_id, version=version, at=at))))
        reader.viewed("case_as_of", [Subject(current.township_code, student_id=current.student_id,
                                             case_id=str(current.id))])
        return shown

    def opening_township(case_id: uuid.UUID) -> str | None:
        """The township the case was opened in (never changes), or None when its opening is unreadable."""
        try:
            return casework.queries.case(case_id, version=1).township_code
        except NotFound:
            raise
        except Exception:  # noqa: BLE001 - an unreadable opening is itself an audit finding
            return None

    @router.get("/cases/{case_id}/verify", response_model=CaseAuditPublic, summary="校验一个案件的哈希链")
    def verify_one(case_id: uuid.UUID, actor: CurrentActor) -> CaseAuditPublic:
        township = opening_township(case_id)
        if township is None:
            require_store_wide(actor)
        else:
            require_scope(actor, township, "案件")
        result = verify_case(casework, case_id)
        return CaseAuditPublic(case_id=result.case_id, intact=result.intact, version=result.version,
                               head=result.head, problems=[ChainProblemPublic(**asdict(p)) for p in result.problems])

    @router.get("/audit/verify", response_model=StoreAuditPublic,
                summary="校验辖区内所有案件哈希链与链头摘要（省级：全库）")
    def verify_all(actor: CurrentActor, expected_digest: str | None = None) -> StoreAuditPublic:
        whole = verify_store(casework)
        wide = is_store_wide(actor)
        result = whole if wide else whole.within(lambda township: township is not None and actor.covers(township))
        unattributed = sum(1 for p in whole.problems if whole.townships.get(p.case_id) is None)
        return StoreAuditPublic(
            scope="*" if wide else actor.jurisdiction, intact=result.intact, cases=result.cases,
            events=result.events, digest=result.digest,
            matches_expected=None if expected_digest is None else expected_digest == result.digest,
            problems=[ChainProblemPublic(**asdict(p)) for p in result.problems],
            problems_elsewhere=0 if wide else unattributed)

    return router
