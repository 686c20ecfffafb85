"""Notifications HTTP API: delivery records of a case, limited to the caller's jurisdiction."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel

from services.notifications.application import NotificationsApp, NotificationView
from services.notifications.domain import AlreadySent, RecipientUnknown
from services.runtime.auth import CurrentActor, require_role
from services.runtime.bootstrap import Runtime, base_app

ERRORS: dict[type[Exception], int] = {AlreadySent: 409, RecipientUnknown: 409}
READERS = (
    "auditor", "province_officer", "prefecture_officer", "county_officer", "township_officer", "school_staff",
    "head_teacher",
)


class NotificationPublic(BaseModel):
    notification_id: str
    case_id: str
    township_code: str
    recipient_role: str
    recipient_id: str | None
    template: str
    status: str
    channel: str | None
    sent_at: datetime | None


def create_app(runtime: Runtime, notifications: NotificationsApp) -> FastAPI:
    """The notifications API bound to its application."""
    app = base_app(
        runtime,
        title="Baoxue notifications (通知)",
        description="Who was told what about a case, through which channel. Every request needs a bearer token.",
        errors=ERRORS,
    )
    router = APIRouter(prefix="/v1", tags=["notifications"])

    @router.get("/notifications", response_model=list[NotificationPublic])
    def list_notifications(
        case_id: Annotated[str, Query(min_length=1, max_length=64, description="Case id (一人一案)")],
        actor: CurrentActor,
    ) -> list[NotificationView]:
        require_role(actor, *READERS)
        found = [n for n in notifications.notifications_for_case(case_id) if actor.covers(n.township_code)]
        if actor.role == "head_teacher":
            found = [n for n in found if n.recipient_id == actor.user_id]
        return found

    app.include_router(router)
    return app
