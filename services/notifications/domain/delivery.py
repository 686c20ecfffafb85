"""One notification on one channel (a delivery), its attempts and receipts, and the pure rules that time them
(quiet hours in Asia/Shanghai, who may override them). Pure: no I/O; events carry ids and codes, never an address."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate, event

from services.notifications.domain.notifications import NAMESPACE

LOCAL = ZoneInfo("Asia/Shanghai")
OUTCOMES = ("queued", "deferred", "sent", "delivered", "failed")


def delivery_id_for(notification_id: str, channel: str) -> uuid.UUID:
    """One delivery per notification x channel: the idempotency key every provider sees."""
    return uuid.uuid5(NAMESPACE, f"delivery:{notification_id}:{channel}")


@dataclass(frozen=True)
class QuietHours:
    """A daily window (local time) in which non-urgent messages wait; ``start > end`` spans midnight."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """``"22:00-07:00"`` -> QuietHours; raises ValueError naming the expected form."""
        try:
            a, b = text.split("-")
            return cls(time.fromisoformat(a.strip()), time.fromisoformat(b.strip()))
        except ValueError:
            raise ValueError(f"quiet hours must read HH:MM-HH:MM, not {text!r}") from None

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def ends_after(self, at: datetime) -> datetime | None:
        """When the window holding ``at`` ends (aware, UTC-comparable), or None when ``at`` is outside it."""
        local = at.astimezone(LOCAL)
        t = local.timetz().replace(tzinfo=None)
        if self.start == self.end:
            return None
        inside = (self.start <= t < self.end) if self.start < self.end else (t >= self.start or t < self.end)
        if not inside:
            return None
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        return end + timedelta(days=1) if end <= local else end


def quiet_until(at: datetime, quiet: QuietHours | None, urgent: bool) -> datetime | None:
    """When a message due ``at`` may go: None means now (no window, outside it, or an urgent kind)."""
    if urgent or quiet is None:
        return None
    return quiet.ends_after(at)


class Delivery(Aggregate):
    """A notification's journey on one channel: deferred by quiet hours, sent per attempt, then delivered or
    failed (a failed attempt may be retried; a final failure is the give-up state)."""

    @event("Queued")
    def __init__(self, notification_id: str, channel: str, recipient_id: str, template: str, township_code: str,
                 case_id: str | None, urgent: bool):
        self.notification_id = notification_id
        self.channel = channel
        self.recipient_id = recipient_id
        self.template = template
        self.township_code = township_code
        self.case_id = case_id
        self.urgent = urgent
        self.status = "queued"
        self.attempts = 0
        self.provider_message_id: str | None = None

    @staticmethod
    def create_id(notification_id: str, channel: str, **_: Any) -> uuid.UUID:
        return delivery_id_for(notification_id, channel)

    def ids(self) -> dict[str, Any]:
        """What every receipt event repeats, so each one maps to a contract on its own."""
        return {"notification_id": self.notification_id, "channel": self.channel, "recipient_id": self.recipient_id,
                "template": self.template, "township_code": self.township_code, "case_id": self.case_id}

    @property
    def settled(self) -> bool:
        """Delivered or given up: nothing more will happen."""
        return self.status in ("delivered", "failed")

    def defer(self, until: datetime, reason: str) -> None:
        if self.status != "deferred" or self.__dict__.get("deferred_until") != until:
            self._deferred(until=until, reason=reason)

    @event("Deferred")
    def _deferred(self, until: datetime, reason: str) -> None:
        self.status, self.deferred_until = "deferred", until

    def sent(self, attempt: int, at: datetime, provider_message_id: str | None) -> bool:
        """The provider accepted attempt ``attempt``; False when it was already recorded (a restart)."""
        if self.settled or (self.status == "sent" and self.attempts >= attempt):
            return False
        self._sent(attempt=attempt, at=at, provider_message_id=provider_message_id, ids=self.ids())
        return True

    @event("Sent")
    def _sent(self, attempt: int, at: datetime, provider_message_id: str | None, ids: dict[str, Any]) -> None:
        self.status, self.attempts, self.provider_message_id = "sent", attempt, provider_message_id

    def attempt_failed(self, attempt: int, at: datetime, reason: str, retry_at: datetime | None) -> None:
        """One attempt failed; ``retry_at`` None means this was the last (the give-up state)."""
        if self.settled:
            return
        self._failed(attempt=attempt, at=at, reason=reason, retry_at=retry_at, final=retry_at is None, ids=self.ids())

    @event("Failed")
    def _failed(self, attempt: int, at: datetime, reason: str, retry_at: datetime | None, final: bool,
                ids: dict[str, Any]) -> None:
        self.attempts = max(self.attempts, attempt)
        self.status = "failed" if final else "retrying"

    def receipt(self, delivered: bool, at: datetime, reason: str) -> bool:
        """The provider's status report (回执); False when it changes nothing (a repeat, or after settling)."""
        if self.settled:
            return False
        if delivered:
            self._delivered(at=at, reason=reason, ids=self.ids())
        else:
            self._failed(attempt=self.attempts, at=at, reason=reason, retry_at=None, final=True, ids=self.ids())
        return True

    @event("Delivered")
    def _delivered(self, at: datetime, reason: str, ids: dict[str, Any]) -> None:
        self.status = "delivered"
