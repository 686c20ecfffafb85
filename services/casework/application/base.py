"""What every casework use case stands on: the store, loading by id, saving with retries, ending an episode."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from services.casework.domain import Case, ChildCases, Conflict, NotFound, child_cases_id_for
from services.casework.policy import CasePolicy
from services.casework.projections import CaseViews, MemoryCaseViews
from services.runtime.eventstore import ServiceApplication

SAVE_ATTEMPTS = 3


class CaseworkBase(ServiceApplication):
    """The event store with casework's read models and rules; the use-case modules build on it."""

    name = "Casework"

    def __init__(self, env: Any = None, index: CaseViews | None = None, policy: CasePolicy | None = None) -> None:
        super().__init__(env)
        self.index: CaseViews = index or MemoryCaseViews()
        self.policy = policy or CasePolicy()

    def case(self, case_id: UUID, version: int | None = None) -> Case:
        try:
            case = self.repository.get(case_id, version=version)
        except AggregateNotFoundError:
            case = None
        if not isinstance(case, Case):
            raise NotFound("案件不存在", rule="case_exists")
        return case

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
        for n in range(1, SAVE_ATTEMPTS + 1):
            result = attempt()
            try:
                if save is None:
                    self.save(*result.aggregates)
                else:
                    save(result)
            except IntegrityError:
                if n == SAVE_ATTEMPTS:
                    raise Conflict("案件正被同时修改，请稍后重试", rule="concurrent_change") from None
                continue
            return result
        raise AssertionError("unreachable")

    def _get(self, cls: type, aggregate_id: UUID) -> Any:
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None


def at_of(meta: dict[str, Any]) -> datetime:
    at = meta["at"]
    return at if isinstance(at, datetime) else datetime.fromisoformat(at)
