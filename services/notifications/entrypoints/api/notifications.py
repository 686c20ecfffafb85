"""Notifications HTTP API: delivery records limited to the caller's jurisdiction, and the recipients directory."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel

from services.notifications.adapters.channels import DeliveryRefused
from services.notifications.adapters.projections import Query as RecordsQuery
from services.notifications.application import NotificationsApp, NotificationView
from services.notifications.application.recipients import DirectoryService
from services.notifications.entrypoints.api.delivery import DeliveryApi, delivery_router
from services.notifications.entrypoints.api.recipients import recipients_router
from services.notifications.roles import MATRIX
from services.runtime.auth import CurrentActor
from services.runtime.bootstrap import Runtime, base_app
from services.runtime.consumer import TransientError
from services.runtime.web import seal

# Domain errors are answered by their status (runtime.errors, web.py); these two are the channel's, not rules.
CHANNEL_ERRORS: dict[type[Exception], int] = {DeliveryRefused: 502, TransientError: 503}
OWN_ONLY = ("head_teacher", "village_cadre", "justice_officer")  # people who are told, not who supervise


class NotificationPublic(BaseModel):
    notification_id: str
    case_id: str | None
    township_code: str
    recipient_role: str
    recipient_id: str | None
    template: str
    trigger_id: str | None
    status: str
    channel: str | None
    sent_at: datetime | None
    requested_at: datetime


def create_app(runtime: Runtime, notifications: NotificationsApp, directory: DirectoryService,
               delivery: DeliveryApi) -> FastAPI:
    """The notifications API bound to its application."""
    app = base_app(
        runtime,
        title="Baoxue notifications (通知)",
        description="Who was told what, through which channel, and the recipients directory. "
        "Every request needs a bearer token.",
        errors=CHANNEL_ERRORS,
        roles=MATRIX,
    )
    router = APIRouter(prefix="/v1", tags=["notifications"])

    @router.get("/notifications", response_model=list[NotificationPublic])
    def list_notifications(
        actor: CurrentActor,
        case_id: Annotated[str | None, Query(min_length=1, max_length=64, description="Case id (一人一案)")] = None,
        recipient: Annotated[str | None, Query(min_length=1, max_length=128, description="Recipient user id")] = None,
        status: Annotated[Literal["requested", "pending", "sent", "forwarded"] | None, Query()] = None,
        template: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[NotificationView]:
        """Delivery records inside the caller's jurisdiction, newest first; people who are told see their own."""
        if actor.role in OWN_ONLY:
            if recipient not in (None, actor.user_id):
                return []
            recipient = actor.user_id
        query = RecordsQuery(actor.jurisdiction, case_id, recipient, status, template, limit)
        return notifications.search(query)

    app.include_router(router)
    app.include_router(recipients_router(notifications, directory))
    app.include_router(delivery_router(delivery))
    return seal(app)
