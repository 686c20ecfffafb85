"""What every casework use case stands on: the store, loading by id, saving with retries, ending an episode."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from services.casework.adapters.projections import MemoryCaseViews
from services.casework.application.ports import CaseViews
from services.casework.domain import Case, ChildCases, Conflict, NotFound, child_cases_id_for
from services.casework.domain.policy import CasePolicy
from services.runtime.aggregates import load, require, save_with_retry
from services.runtime.eventstore import ServiceApplication


class CaseworkBase(ServiceApplication):
    """The event store with casework's read models and rules (both given to the constructor); the use-case
    classes build on it."""

    name = "Casework"

    def __init__(self, env: Any = None, index: CaseViews | None = None, policy: CasePolicy | None = None) -> None:
        super().__init__(env)
        self.index: CaseViews = index or MemoryCaseViews()
        self.policy = policy or CasePolicy()

    def case(self, case_id: UUID, version: int | None = None) -> Case:
        return require(self.repository, Case, case_id, lambda: NotFound("案件不存在", rule="case_exists"),
                       version=version)

    def _episode_effects(self, case: Case) -> list[Aggregate]:
        """A closed or excluded case ends the child's episode (saved with the case, in one transaction)."""
        if case.stage not in ("closed", "excluded"):
            return []
        child = self._get(ChildCases, child_cases_id_for(case.student_id))
        if child is None or child.open_case_id != str(case.id):
            return []
        reason = (case.closure or {}).get("reason") if case.stage == "closed" else "excluded_from_count"
        child.end_episode(str(case.id), reason, case.pending_events[-1].meta if case.pending_events else case.meta)
        return [child]

    def _retrying(self, attempt: Callable[[], Any], save: Callable[[Any], None] | None = None) -> Any:
        """Load, act, save; a concurrent write makes the attempt start again (409 after the last one)."""
        return save_with_retry(attempt, save or (lambda result: self.save(*result.aggregates)),
                               conflict=lambda: Conflict("案件正被同时修改，请稍后重试", rule="concurrent_change"))

    def _get(self, cls: type, aggregate_id: UUID) -> Any:
        return load(self.repository, cls, aggregate_id)


def at_of(meta: dict[str, Any]) -> datetime:
    at = meta["at"]
    return at if isinstance(at, datetime) else datetime.fromisoformat(at)
