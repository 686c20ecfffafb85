"""Reading cases: by id, as of a past version or moment, their history, lists and owners' queues."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.casework.adapters.projections import CaseSummary, QueueItem
from services.casework.application.base import CaseStore
from services.casework.application.ports import CaseViews
from services.casework.application.views import HistoryEntry, history_entry
from services.casework.domain import Case, NotFound, case_id_for


class CaseQueries:
    """Queries return plain data; lists and queues read the case index after catching it up."""

    def __init__(self, store: CaseStore, index: CaseViews) -> None:
        self.store = store
        self.index = index

    def case(self, case_id: UUID, version: int | None = None) -> Case:
        """The case, as it is now or as it was at a version (404 when there is none)."""
        return self.store.case(case_id, version=version)

    def case_id_for_detection(self, detection_id: str) -> UUID:
        """The case an attendance detection opened (by its deterministic id)."""
        return case_id_for("attendance", detection_id)

    def case_history(self, case_id: UUID) -> list[HistoryEntry]:
        """Every stored event of a case in order (the audit record)."""
        self.case(case_id)
        return [history_entry(e) for e in self.store.app.events.get(case_id)]

    def case_as_of(self, case_id: UUID, *, version: int | None = None, at: datetime | None = None) -> Case:
        """The case as it was at a version, or as recorded at a past moment."""
        if at is not None:
            versions = [e.originator_version for e in self.store.app.events.get(case_id) if e.timestamp <= at]
            if not versions:
                raise NotFound("该时间点案件尚未建立", rule="case_existed_then")
            version = versions[-1] if version is None else min(version, versions[-1])
        return self.case(case_id, version=version)

    def cases_for_jurisdiction(self, prefix: str, *, stage: str | None = None, limit: int = 50,
                               after: tuple[datetime, str] | None = None) -> list[CaseSummary]:
        """Cases inside a jurisdiction code prefix, newest first, read from the case index after catching it up."""
        self.index.catch_up(self.store.app)
        return self.index.search(prefix, stage=stage, limit=limit, after=after)

    def queue(self, user_id: str, prefix: str, limit: int = 100) -> list[QueueItem]:
        """An owner's open cases inside a jurisdiction, due actions first."""
        self.index.catch_up(self.store.app)
        return self.index.queue(user_id, prefix, limit=limit)
