"""The ports notifications' use cases call: a channel that delivers a text, and the delivery records."""

from __future__ import annotations

from typing import Any, Protocol

from services.notifications.adapters.projections import NotificationView, Query


class Channel(Protocol):
    """Delivers a text to a recipient; sending the same notification id twice delivers it once."""

    name: str

    def send(self, notification_id: str, recipient_id: str, text: str, *, template: str | None = None,
             address: str | None = None) -> None: ...


class Records(Protocol):
    """Where delivery records are kept and searched (PostgreSQL or in memory)."""

    def catch_up(self, app: Any) -> int: ...

    def search(self, q: Query) -> list[NotificationView]: ...
