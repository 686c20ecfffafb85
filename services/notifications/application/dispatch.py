"""Dispatch: turns "tell this person / whoever holds this role" into notifications, sent at once through the
channel (idempotent on the notification id) or parked in the county directory until someone is named."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from services.notifications.application.ports import Channel
from services.notifications.domain import (
    Notification,
    role_slot,
    trigger_notification_id,
)
from services.notifications.domain.directory import CountyDirectory, Recipient, county_of
from services.notifications.domain.templates import greeting
from services.runtime.clock import Clock


@dataclass(frozen=True)
class Request:
    """What a trigger asks to tell, before we know who will hear it."""

    trigger_id: str
    template: str
    township_code: str
    case_id: str | None
    student_id: str | None
    facts: dict[str, str]


class Dispatcher:
    """Sends through one channel, stamps with one clock; reads aggregates from the store."""

    def __init__(self, app: Any, channel: Channel, clock: Clock) -> None:
        self.app = app
        self.channel = channel
        self.clock = clock

    def begin(self, meta: dict[str, Any]) -> Dispatch:
        return Dispatch(self, meta)

    def deliver(self, n: Notification, recipient_id: str, name: str | None, address: str | None,
                meta: dict[str, Any]) -> None:
        """Channel first (idempotent), then the Sent event: at-least-once to the channel, once as an event."""
        text = n.text(greeting(name))
        self.channel.send(str(n.id), recipient_id, text, template=n.template, address=address,
                          township_code=n.township_code, case_id=n.case_id)
        n.mark_sent(recipient_id=recipient_id, channel=self.channel.name, sent_at=self.clock.now(), text=text,
                    meta=meta)


@dataclass
class Dispatch:
    """One unit of work: the notifications and directories it changed, saved together by the caller."""

    dispatcher: Dispatcher
    meta: dict[str, Any]
    changed: dict[Any, Any] = field(default_factory=dict)
    directories: dict[str, CountyDirectory | None] = field(default_factory=dict)

    def _keep(self, aggregate: Any) -> None:
        self.changed[aggregate.id] = aggregate

    def _exists(self, notification_id: Any) -> bool:
        return notification_id in self.changed or self.dispatcher.app.notification(notification_id) is not None

    def directory(self, code: str) -> CountyDirectory | None:
        county = county_of(code)
        if county not in self.directories:
            self.directories[county] = self.dispatcher.app.directory(county)
        return self.directories[county]

    def use_directory(self, directory: CountyDirectory) -> None:
        """Works on a directory the caller is changing (an import), so parked notices see the new names."""
        self.directories[directory.county_code] = directory
        self._keep(directory)

    def to_user(self, request: Request, role: str, user_id: str, name: str | None = None,
                address: str | None = None) -> Notification | None:
        """Tells one known person; nothing if this trigger already told them with this template."""
        notification_id = trigger_notification_id(request.trigger_id, user_id, request.template)
        if self._exists(notification_id):
            return None
        n = Notification(
            case_id=request.case_id, student_id=request.student_id, township_code=request.township_code,
            recipient_role=role, template=request.template, meta=self.meta, trigger_id=request.trigger_id,
            recipient_key=user_id, facts=request.facts,
        )
        self.dispatcher.deliver(n, user_id, name, address, self.meta)
        self._keep(n)
        return n

    def to_role(self, request: Request, role: str, code: str) -> list[Notification]:
        """Tells whoever the directory names for the role nearest the code, or parks one pending notice."""
        directory = self.directory(code)
        found = directory.nearest(role, code) if directory is not None else []
        if found:
            return [n for r in found if (n := self._to_recipient(request, r)) is not None]
        notification_id = trigger_notification_id(request.trigger_id, role_slot(role), request.template)
        if self._exists(notification_id):
            return []
        n = Notification(
            case_id=request.case_id, student_id=request.student_id, township_code=request.township_code,
            recipient_role=role, template=request.template, meta=self.meta, trigger_id=request.trigger_id,
            recipient_key=role_slot(role), facts=request.facts,
        )
        n.wait_for_recipient(self.meta)
        if directory is None:
            directory = CountyDirectory(county_code=county_of(code), meta=self.meta)
            self.directories[directory.county_code] = directory
        directory.park(str(n.id), role, code, self.meta)
        self._keep(n)
        self._keep(directory)
        return [n]

    def _to_recipient(self, request: Request, r: Recipient) -> Notification | None:
        return self.to_user(request, r.role, r.user_id, r.name, r.address)

    def release(self, directory: CountyDirectory) -> int:
        """Delivers the directory's parked notices that someone can now receive; returns how many were sent."""
        sent = 0
        released = []
        for notification_id, recipients in directory.deliverable():
            pending = self.changed.get(UUID(notification_id)) or self.dispatcher.app.notification(notification_id)
            released.append(notification_id)
            if pending is None or pending.status != "pending":
                continue
            request = Request(pending.trigger_id, pending.template, pending.township_code, pending.case_id,
                              pending.student_id, pending.facts)
            told = [n for r in recipients if (n := self._to_recipient(request, r)) is not None]
            pending.forward([r.user_id for r in recipients], self.meta)
            self._keep(pending)
            sent += len(told)
        directory.release(released, self.meta)
        self._keep(directory)
        return sent

    def aggregates(self) -> list[Any]:
        return list(self.changed.values())
