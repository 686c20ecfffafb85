"""Delivery routes: recipients' channel preferences and quiet hours, and the SMS provider's status callback
(回执, which cannot carry a bearer token: it is checked against a shared token in the URL instead)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from services.notifications.adapters.channels_sms import parse_receipts
from services.notifications.application.delivery import PreferenceService, Receipts
from services.notifications.domain.preferences import Preference
from services.notifications.roles import EDITORS
from services.runtime.auth import Actor, CurrentActor, require_scope
from services.runtime.jsoninput import parse_json
from services.runtime.validation import SafeLine

UserId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")]


@dataclass
class DeliveryApi:
    """What the delivery routes need: the preferences use case, the receipts use case and the callback token."""

    preferences: PreferenceService
    receipts: Receipts
    sms_callback_token: str | None = None


class PreferenceIn(BaseModel):
    jurisdiction_code: str = Field(pattern=r"^[0-9]{6}([0-9]{3}([0-9]{3})?)?$",
                                   description="The recipient's own jurisdiction (who may edit this)")
    channels: dict[SafeLine, SafeLine | None] = Field(
        min_length=1, max_length=8, description="channel -> address (null: the directory's address), "
        "channels: sms, wecom, dingtalk, email")
    muted_templates: list[SafeLine] = Field(default_factory=list, max_length=50,
                                            description="Message kinds (templates) not wanted")
    quiet_hours: SafeLine | None = Field(None, description="HH:MM-HH:MM (Asia/Shanghai); urgent kinds still go")


class PreferenceOut(BaseModel):
    user_id: str
    jurisdiction_code: str
    channels: dict[str, str | None]
    muted_templates: list[str]
    quiet_hours: str | None


def _may_manage(actor: Actor, user_id: str) -> None:
    """A recipient manages their own preferences; county officers and above those in their jurisdiction."""
    if actor.role not in (*EDITORS, "admin") and actor.user_id != user_id:
        raise HTTPException(403, detail={"code": "not_your_preferences", "message": "只能查看或修改本人的接收设置"})


def delivery_router(delivery: DeliveryApi) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["delivery"])

    @router.put("/preferences/{user_id}", response_model=PreferenceOut)
    def put_preferences(user_id: UserId, body: PreferenceIn, actor: CurrentActor) -> dict[str, Any]:
        """Sets one recipient's channels, muted message kinds and quiet hours (replaced whole)."""
        _may_manage(actor, user_id)
        require_scope(actor, body.jurisdiction_code, "接收人")
        existing = delivery.preferences.get(user_id)
        if existing is not None:
            require_scope(actor, existing.jurisdiction_code, "接收人")
        p: Preference = delivery.preferences.put(user_id, body.jurisdiction_code, dict(body.channels),
                                                 list(body.muted_templates), body.quiet_hours)
        return p.as_dict()

    @router.get("/preferences/{user_id}", response_model=PreferenceOut)
    def get_preferences(user_id: UserId, actor: CurrentActor) -> dict[str, Any]:
        """One recipient's delivery preferences."""
        _may_manage(actor, user_id)
        p = delivery.preferences.get(user_id)
        if p is None or not actor.covers(p.jurisdiction_code):
            raise HTTPException(404, detail={"code": "no_preferences", "message": "该接收人没有接收设置"})
        return p.as_dict()

    @router.post("/channels/sms/receipts")
    async def sms_receipts(request: Request,
                           token: Annotated[str, Query(min_length=1, max_length=200)]) -> dict[str, Any]:
        """The SMS provider's delivery reports (Tencent Cloud 状态回执): each becomes a Delivered or Failed event."""
        expected = delivery.sms_callback_token
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            raise HTTPException(403, detail={"code": "bad_callback_token", "message": "回调令牌无效"})
        try:
            reports = parse_receipts(parse_json(await request.body()))
        except ValueError as exc:
            raise HTTPException(422, detail={"code": "bad_receipts", "message": str(exc)}) from None
        changed = 0
        for sid, delivered, status in reports:
            changed += await run_in_threadpool(delivery.receipts.record, "sms", sid, delivered, status)
        return {"result": 0, "errmsg": "OK", "recorded": changed}

    return router
