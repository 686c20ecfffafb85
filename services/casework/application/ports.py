"""The ports casework's use cases call: what a read model of cases must offer (PostgreSQL or in memory)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from services.casework.adapters.projections import CaseSummary, FireTimer, QueueItem, RemindTimer


class CaseViews(Protocol):
    """Where case summaries, owners' queues and due timers are kept and searched."""

    def catch_up(self, app: Any) -> int: ...

    def search(self, prefix: str, *, stage: str | None, limit: int,
               after: tuple[datetime, str] | None) -> list[CaseSummary]: ...

    def queue(self, user_id: str, prefix: str, *, limit: int) -> list[QueueItem]: ...

    def fire_due(self, now: datetime, limit: int, fire: FireTimer) -> int: ...

    def remind_due(self, now: datetime, limit: int, remind: RemindTimer) -> int: ...

    def next_due(self) -> datetime | None: ...

    def open_by_county(self, now: datetime) -> dict[str, tuple[int, int]]:
        """County code -> (cases not closed, those whose next step's due time has passed by ``now``)."""
        ...
