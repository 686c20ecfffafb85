"""The ports the use cases call: the read model, the data keys an erasure destroys, the scheduler's last run."""

from __future__ import annotations

from datetime import date
from typing import Any, Iterable, Protocol

from services.registry.domain.comparisons import OpenFinding


class ReadModel(Protocol):
    """The registry's read model (PostgreSQL in a deployment, dicts in tests), caught up from the event store."""

    def catch_up(self, store: Any) -> int: ...

    def get(self, table: str, key: str) -> dict[str, Any] | None: ...

    def get_many(self, table: str, keys: list[str]) -> dict[str, dict[str, Any]]: ...

    def rows(self, table: str, prefix: str = "", field: str = "township_code",
             **equals: Any) -> list[tuple[str, dict[str, Any]]]: ...

    def where(self, table: str, **equals: Any) -> list[tuple[str, dict[str, Any]]]: ...

    def census_candidates(self, prefix: str) -> list[tuple[str, dict[str, Any]]]: ...

    def open_findings(self, kind: str, student_ids: Iterable[str] | None = None,
                      prefix: str | None = None) -> dict[str, OpenFinding]: ...

    def drop(self) -> None: ...


class KeyShredder(Protocol):
    """Destroys every data key of a child (crypto-shredding); returns how many."""

    def erase(self, subject: str) -> int: ...


class LastRun(Protocol):
    def get(self) -> date | None: ...

    def set(self, day: date) -> None: ...
