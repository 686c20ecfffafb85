"""What the monthly-report use cases need from the outside, as Protocols; the bootstrap hands in the adapters."""

from __future__ import annotations

from typing import Any, Iterable, Protocol
from uuid import UUID

from services.reporting.domain.monthly import MonthlyReport


class ReportIndex(Protocol):
    """The index of sealed reports by month and unit (a projection of the report store)."""

    def exists(self, rid: UUID) -> bool: ...

    def pending_children(self, month: str, unit: str) -> list[str]: ...

    def list(self, scope: Any, month: str | None) -> list[dict[str, Any]]: ...

    def clear(self) -> None: ...

    def put(self, reports: Iterable[MonthlyReport]) -> None: ...


class MonthFigures(Protocol):
    """Every unit's figures for a month as now known, and the event positions they cover."""

    def compute(self, month: str, root: str = "") -> tuple[dict[str, dict[str, Any]], dict[str, Any]]: ...
