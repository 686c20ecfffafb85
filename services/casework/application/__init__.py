"""Casework use cases: load, act, save (or hand back to save with a tracking record), return plain data.

Split along its seams: ``base`` (the store as use cases use it: loads, retried saves, episode end), ``owners``
(maps, placements, slots), ``opening`` (triggers and retractions), ``cases`` (commands on a case), ``queries``
(reads), ``views`` (plain data of a case), ``audit`` (hash-chain verification), ``deadlines`` (one scheduler pass),
``policies`` (other services' contracts → use cases), ``ports`` (read models).
"""

from __future__ import annotations

from typing import Any

from services.casework.adapters.documents import render_document
from services.casework.adapters.placements import PlacementRows
from services.casework.adapters.projections import MemoryCaseViews
from services.casework.application.base import CaseStore
from services.casework.application.cases import COMMANDS, CaseUseCases
from services.casework.application.documents import DocumentUseCases
from services.casework.application.opening import (
    FINDING_SOURCES,
    Opening,
    OpeningUseCases,
    Outcome,
    finding_trigger_id,
)
from services.casework.application.owners import OwnerUseCases
from services.casework.application.ports import CaseViews
from services.casework.application.queries import CaseQueries
from services.casework.application.views import CaseView, HistoryEntry, case_view, history_entry
from services.casework.domain.policy import CasePolicy
from services.runtime.eventstore import ServiceApplication


class CaseworkApp(ServiceApplication):
    """Casework's event-sourced application (schema ``casework``), composing its use cases on one store: read
    models (``index``) and rules (``policy``) come in through the constructor (the bootstrap's PostgreSQL ones)."""

    name = "Casework"

    def __init__(self, env: Any = None, index: CaseViews | None = None, policy: CasePolicy | None = None) -> None:
        super().__init__(env)
        self.index: CaseViews = index or MemoryCaseViews()
        self.policy = policy or CasePolicy()
        self.placements = PlacementRows(self)  # the registry's placements: a lookup table the consumer writes
        self.lookups = (self.placements,)
        store = CaseStore(self)
        self.owners = OwnerUseCases(store, self.placements)
        self.cases = CaseUseCases(store, self.owners, self.policy)
        self.opening = OpeningUseCases(store, self.owners)
        self.queries = CaseQueries(store, self.index)
        self.documents = DocumentUseCases(store, render_document)


__all__ = [
    "COMMANDS", "FINDING_SOURCES", "CaseQueries", "CaseStore", "CaseUseCases", "CaseView", "CaseworkApp",
    "DocumentUseCases",
    "HistoryEntry", "Opening", "OpeningUseCases", "Outcome", "OwnerUseCases", "case_view", "finding_trigger_id",
    "history_entry",
]
