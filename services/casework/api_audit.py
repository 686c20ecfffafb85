"""Casework API for auditors: a case as of a past version or moment, and hash-chain verification."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.casework.api_schemas import (
    CaseAuditPublic,
    ChainProblemPublic,
    StoreAuditPublic,
)
from services.casework.application import CaseworkApp
from services.casework.audit import verify_case, verify_store
from services.casework.domain import InvalidInput
from services.casework.views import case_view
from services.runtime.auth import CurrentActor, require_role, require_scope



def audit_router(casework: CaseworkApp, read_roles: tuple[str, ...], case_public: Callable[..., Any]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["casework: audit"])

    @router.get("/cases/{case_id}/as-of", summary="案件在某一版本或某一时刻的状态")
    def as_of(case_id: uuid.UUID, actor: CurrentActor, version: Annotated[int | None, Query(ge=1)] = None,
              at: datetime | None = None) -> Any:
        require_scope(actor, casework.case(case_id).township_code, "案件")
        if version is None and at is None:
            raise InvalidInput("请指定 version 或 at", rule="as_of.version_or_time")
        return case_public(**asdict(case_view(casework.case_as_of(case_id, version=version, at=at))))

    @router.get("/cases/{case_id}/verify", response_model=CaseAuditPublic, summary="校验一个案件的哈希链")
    def verify_one(case_id: uuid.UUID, actor: CurrentActor) -> CaseAuditPublic:
        result = verify_case(casework, case_id)
        try:
            require_scope(actor, casework.case(case_id, version=1).township_code, "案件")
        except InvalidInput:
            raise
        except Exception:  # noqa: BLE001 - the opening itself is unreadable: only store-wide auditors may look
            require_role(actor, "auditor")
        return CaseAuditPublic(case_id=result.case_id, intact=result.intact, version=result.version,
                               head=result.head, problems=[ChainProblemPublic(**asdict(p)) for p in result.problems])

    @router.get("/audit/verify", response_model=StoreAuditPublic, summary="校验全库：所有案件哈希链与链头总摘要")
    def verify_all(actor: CurrentActor, expected_digest: str | None = None) -> StoreAuditPublic:
        result = verify_store(casework)
        townships: dict[str, str] = {}

        def inside(case_id: str) -> bool:
            if case_id not in townships:
                first = casework.recorder.select_events(uuid.UUID(case_id), limit=1)[0]
                try:
                    townships[case_id] = casework.mapper.to_domain_event(first).township_code
                except Exception:  # noqa: BLE001 - an unreadable opening is shown to store-wide auditors only
                    townships[case_id] = ""
            return actor.covers(townships[case_id]) or actor.jurisdiction == "" or actor.role == "admin"

        mine = [p for p in result.problems if inside(p.case_id)]
        return StoreAuditPublic(
            intact=result.intact, cases=result.cases, events=result.events, digest=result.digest,
            matches_expected=None if expected_digest is None else expected_digest == result.digest,
            problems=[ChainProblemPublic(**asdict(p)) for p in mine],
            problems_elsewhere=len(result.problems) - len(mine))

    return router
