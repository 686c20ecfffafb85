"""Notifications use cases: load, act, save, return plain data."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from contracts import Contract
from contracts.events import NotificationSentV1
from services.notifications.directory import (
    CountyDirectory,
    Recipient,
    directory_id_for,
)
from services.notifications.domain import (
    CaseFile,
    Notification,
    StudentContact,
    case_file_id_for,
    contact_id_for,
)
from services.notifications.projections import (
    MemoryRecords,
    NotificationView,
    Query,
    Records,
)
from services.runtime.eventstore import ServiceApplication

__all__ = ["NotificationView", "NotificationsApp", "to_contract"]


class NotificationsApp(ServiceApplication):
    """The notifications service's event-sourced application (schema ``notifications``)."""

    name = "Notifications"

    def __init__(self, env: Any = None, records: Records | None = None) -> None:
        super().__init__(env=env)
        self.records: Records = records or MemoryRecords()

    def contact(self, student_id: str) -> StudentContact | None:
        return self._get(StudentContact, contact_id_for(student_id))

    def case_file(self, case_id: str) -> CaseFile | None:
        return self._get(CaseFile, case_file_id_for(case_id))

    def directory(self, county_code: str) -> CountyDirectory | None:
        return self._get(CountyDirectory, directory_id_for(county_code))

    def notification(self, notification_id: UUID | str) -> Notification | None:
        return self._get(Notification, UUID(str(notification_id)))

    def search(self, query: Query) -> list[NotificationView]:
        """Delivery records matching the query, newest first (the records are caught up first)."""
        self.records.catch_up(self)
        return self.records.search(query)

    def notifications_for_case(self, case_id: str, prefix: str = "") -> list[NotificationView]:
        """Every notification a case triggered inside a jurisdiction prefix."""
        return self.search(Query(prefix=prefix, case_id=case_id, limit=1000))

    def recipients(self, county_code: str) -> list[Recipient]:
        directory = self.directory(county_code)
        return sorted(directory.recipients(), key=lambda r: (r.jurisdiction_code, r.role, r.user_id)) if directory else []

    def _get(self, cls: type, aggregate_id: UUID) -> Any:
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None


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
