"""The stage machine and the checks commands share: which action is allowed from which stage, by whom."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from services.casework.domain.codes import EVIDENCE_KINDS, STAGE_LABELS
from services.casework.domain.errors import Conflict, Forbidden, InvalidInput

ACTIONS = {  # action -> (中文, stages it is allowed from)
    "start_verification": ("开始核查", ("suspected",)),
    "conclude_not_dropout": ("核查为非辍学", ("suspected", "verifying")),
    "confirm_dropout": ("确认辍学", ("suspected", "verifying")),
    "record_work": ("记录工作", ("suspected", "verifying", "not_dropout", "persuading", "escalated", "returned",
                                 "closure_pending")),
    "assign_owner": ("指定责任人", ("suspected", "verifying", "not_dropout", "persuading", "escalated", "returned",
                                    "closure_pending")),
    "take_legal_step": ("依法控辍", ("persuading", "escalated")),
    "record_return": ("登记复学", ("suspected", "verifying", "persuading", "escalated")),
    "relapse": ("登记反弹", ("returned", "closure_pending")),
    "close_returned": ("以复学销号", ("returned",)),
    "close_not_dropout": ("以非辍学销号", ("not_dropout",)),
    "decide_closure": ("审批销号", ("closure_pending",)),
    "exclude_from_count": ("不计入辍学", ("suspected", "verifying", "persuading", "escalated")),
    "reopen": ("重新立案", ("closed",)),
}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def require_stage(stage: str, action: str) -> None:
    """409 naming the rule ``stage.<action>`` when the stage machine forbids the action."""
    label, allowed = ACTIONS[action]
    if stage not in allowed:
        allowed_text = "、".join(STAGE_LABELS[s] for s in allowed)
        raise Conflict(f"案件处于「{STAGE_LABELS[stage]}」阶段，不能{label}（仅限：{allowed_text}）", rule=f"stage.{action}")


def actor_role(meta: dict[str, Any]) -> str | None:
    return meta.get("actor_role")


def require_actor_role(meta: dict[str, Any], roles: Iterable[str], rule: str, what: str) -> None:
    """Some rules name who may act (e.g. only the justice office issues 司法文书); admin always may."""
    role = actor_role(meta)
    if role != "admin" and role not in roles:
        raise Forbidden(f"角色 {role} 不能{what}（仅限：{'、'.join(roles)}）", rule=rule)


def require_text(value: str | None, rule: str, what: str) -> str:
    if value is None or not value.strip():
        raise InvalidInput(f"{what}不能为空", rule=rule)
    return value.strip()


def require_code(value: str, known: dict[str, str], rule: str, what: str) -> str:
    if value not in known:
        raise InvalidInput(f"{what}代码无效: {value}（可选：{'、'.join(known)}）", rule=rule)
    return value


def checked_evidence(items: Iterable[dict[str, Any]] | None, *, required: bool, rule: str) -> list[dict[str, Any]]:
    """Evidence is a reference, never the file: kind, sha256 of the file, where it is stored."""
    evidence = []
    for item in items or ():
        kind = require_code(item.get("kind", ""), EVIDENCE_KINDS, "evidence.kind", "证据类型")
        digest = str(item.get("sha256", "")).lower()
        if not _SHA256.match(digest):
            raise InvalidInput("证据须附文件的 SHA-256 摘要（64位十六进制）", rule="evidence.sha256")
        location = require_text(item.get("location"), "evidence.location", "证据存放位置")
        ref = {"kind": kind, "sha256": digest, "location": location,
               "description": (item.get("description") or "").strip() or None}
        if item.get("media_type") is not None or item.get("size_bytes") is not None:  # an uploaded photo's facts
            ref.update(media_type=item.get("media_type"), size_bytes=item.get("size_bytes"))
        evidence.append(ref)
    if required and not evidence:
        raise InvalidInput("此操作须附证据材料（文件摘要与存放位置）", rule=rule)
    return evidence


def at_of(meta: dict[str, Any]) -> datetime:
    """The business time of a command (meta["at"])."""
    at = meta.get("at")
    if not at:
        raise InvalidInput("缺少业务发生时间", rule="meta_at_required")
    return at if isinstance(at, datetime) else datetime.fromisoformat(at)
