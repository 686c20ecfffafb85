"""The notifications event store: its aggregates by id and its delivery records, as plain data."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from services.notifications.adapters.contacts import ContactRows
from services.notifications.adapters.projections import MemoryRecords, NotificationView, Query
from services.notifications.application.ports import Records
from services.notifications.domain import (
    CaseFile,
    Contact,
    CountyDirectory,
    Notification,
    Recipient,
    case_file_id_for,
    directory_id_for,
)
from services.runtime.aggregates import load
from services.runtime.eventstore import ServiceApplication

__all__ = ["NotificationView", "NotificationsApp"]


class NotificationsApp(ServiceApplication):
    """The notifications service's event-sourced application (schema ``notifications``); its delivery records
    are given to the constructor (PostgreSQL from the bootstrap, in memory by default)."""

    name = "Notifications"

    def __init__(self, env: Any = None, records: Records | None = None) -> None:
        super().__init__(env=env)
        self.records: Records = records or MemoryRecords()
        self.contacts = ContactRows(self)  # students' contacts: a lookup table the consumer writes
        self.lookups = (self.contacts,)

    def contact(self, student_id: str) -> Contact | None:
        return self.contacts.get(student_id)

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
        return load(self.repository, cls, aggregate_id)
