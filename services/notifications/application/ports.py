"""The ports notifications' use cases call: the channel the dispatcher hands a text to, the provider channels,
the delivery outbox, recipients' preferences, and the delivery records."""

from __future__ import annotations

from typing import Any, Protocol

from datetime import datetime

from services.notifications.adapters.channels import OutboundMessage
from services.notifications.adapters.outbox import OutboxRow
from services.notifications.adapters.projections import NotificationView, Query
from services.notifications.domain.preferences import Preference


class Channel(Protocol):
    """Delivers a text to a recipient; sending the same notification id twice delivers it once."""

    name: str

    def send(self, notification_id: str, recipient_id: str, text: str, *, template: str | None = None,
             address: str | None = None, township_code: str | None = None, case_id: str | None = None) -> None: ...


class DeliveryChannel(Protocol):
    """One provider (SMS, WeCom, DingTalk, e-mail): sends a message, returns the provider's message id;
    raises ``ProviderUnavailable`` (try later) or ``DeliveryRefused`` (never). Providers that accept an
    idempotency key get ``message.idempotency_key`` (the delivery id) and drop a repeat."""

    name: str

    def send(self, message: OutboundMessage) -> str | None: ...


class Outbox(Protocol):
    """Deliveries waiting to go, claimed with a lease (PostgreSQL)."""

    def enqueue(self, rows: list[OutboxRow], now: datetime) -> int: ...

    def claim(self, now: datetime, owner: str, lease_s: float, limit: int = 50) -> list[OutboxRow]: ...

    def reschedule(self, delivery_id: str, owner: str, due_at: datetime, attempts: int) -> None: ...

    def settle(self, delivery_id: str, owner: str, status: str, attempts: int,
               provider_message_id: str | None = None) -> None: ...

    def by_provider_id(self, channel: str, provider_message_id: str) -> str | None: ...


class Preferences(Protocol):
    """Recipients' delivery preferences."""

    def get(self, user_id: str) -> Preference | None: ...

    def put(self, p: Preference, now: datetime) -> None: ...


class Records(Protocol):
    """Where delivery records are kept and searched (PostgreSQL or in memory)."""

    def catch_up(self, app: Any) -> int: ...

    def search(self, q: Query) -> list[NotificationView]: ...
