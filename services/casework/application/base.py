"""What every casework use case stands on: the event store, loading by id, saving with retries, ending an episode."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from services.casework.domain import Case, ChildCases, Conflict, NotFound, child_cases_id_for
from services.runtime.aggregates import load, require, save_with_retry
from services.runtime.eventstore import ServiceApplication


class CaseStore:
    """The event store as the use cases use it (given to each of them): load by id, save, retry, end an episode."""

    def __init__(self, app: ServiceApplication) -> None:
        self.app = app

    def case(self, case_id: UUID, version: int | None = None) -> Case:
        return require(self.app.repository, Case, case_id, lambda: NotFound("案件不存在", rule="case_exists"),
                       version=version)

    def get(self, cls: type, aggregate_id: UUID) -> Any:
        return load(self.app.repository, cls, aggregate_id)

    def save(self, *aggregates: Aggregate) -> None:
        self.app.save(*aggregates)

    def retrying(self, attempt: Callable[[], Any], save: Callable[[Any], None] | None = None) -> Any:
        """Load, act, save; a concurrent write makes the attempt start again (409 after the last one)."""
        return save_with_retry(attempt, save or (lambda result: self.save(*result.aggregates)),
                               conflict=lambda: Conflict("案件正被同时修改，请稍后重试", rule="concurrent_change"))

    def episode_effects(self, case: Case) -> list[Aggregate]:
        """A closed or excluded case ends the child's episode (saved with the case, in one transaction)."""
        if case.stage not in ("closed", "excluded"):
            return []
        child = self.get(ChildCases, child_cases_id_for(case.student_id))
        if child is None or child.open_case_id != str(case.id):
            return []
        reason = (case.closure or {}).get("reason") if case.stage == "closed" else "excluded_from_count"
        child.end_episode(str(case.id), reason, case.pending_events[-1].meta if case.pending_events else case.meta)
        return [child]


def at_of(meta: dict[str, Any]) -> datetime:
    at = meta["at"]
    return at if isinstance(at, datetime) else datetime.fromisoformat(at)
