"""Notifications use cases: load, act, save, return plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from contracts import Contract
from contracts.events import NotificationSentV1
from services.notifications.domain import (
    CASE_NOTIFICATIONS,
    Notification,
    StudentContact,
    contact_id_for,
    notification_id_for,
)
from services.runtime.eventstore import ServiceApplication


@dataclass(frozen=True)
class NotificationView:
    notification_id: str
    case_id: str
    student_id: str
    township_code: str
    recipient_role: str
    recipient_id: str | None
    template: str
    status: str
    channel: str | None
    sent_at: datetime | None


class NotificationsApp(ServiceApplication):
    """The notifications service's event-sourced application (schema ``notifications``)."""

    name = "Notifications"

    def contact(self, student_id: str) -> StudentContact | None:
        return self._get(StudentContact, contact_id_for(student_id))

    def notification(self, notification_id: UUID | str) -> Notification | None:
        return self._get(Notification, UUID(str(notification_id)))

    def notifications_for_case(self, case_id: str) -> list[NotificationView]:
        """Every notification a case triggered (their ids follow from the case id, no index needed)."""
        found = (self.notification(notification_id_for(case_id, role, template)) for role, template in CASE_NOTIFICATIONS)
        return [notification_view(n) for n in found if n is not None]

    def _get(self, cls: type, aggregate_id: UUID) -> Any:
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None


def notification_view(n: Notification) -> NotificationView:
    return NotificationView(
        str(n.id), n.case_id, n.student_id, n.township_code, n.recipient_role, n.recipient_id, n.template,
        n.status, n.channel, n.sent_at,
    )


def to_contract(domain_event: Any) -> Contract | None:
    """Maps stored notification events to public contracts: only a sent notification is news."""
    if isinstance(domain_event, Notification.Sent):
        return NotificationSentV1(
            notification_id=str(domain_event.originator_id),
            case_id=domain_event.case_id,
            recipient_id=domain_event.recipient_id,
            recipient_role=domain_event.recipient_role,
            channel=domain_event.channel,
            template=domain_event.template,
            township_code=domain_event.township_code,
            sent_at=domain_event.sent_at,
        )
    return None
