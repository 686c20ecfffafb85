"""Casework use cases: load, act, save (or hand back to save with a tracking record), return plain data.

Split along its seams: ``base`` (store, retries, episode end), ``owners`` (maps, placements, slots),
``opening`` (triggers and retractions), ``cases`` (commands on a case), ``queries`` (reads), ``views`` (plain
data of a case), ``audit`` (hash-chain verification), ``deadlines`` (one scheduler pass), ``ports`` (read models).
"""

from __future__ import annotations

from services.casework.application.base import CaseworkBase
from services.casework.application.cases import COMMANDS, CaseUseCases
from services.casework.application.opening import (
    FINDING_SOURCES,
    Opening,
    OpeningUseCases,
    Outcome,
    finding_trigger_id,
)
from services.casework.application.owners import OwnerUseCases
from services.casework.application.queries import CaseQueries
from services.casework.application.views import CaseView, HistoryEntry, case_view, history_entry


class CaseworkApp(OpeningUseCases, CaseUseCases, CaseQueries):
    """Casework's event-sourced application (schema ``casework``)."""

    name = "Casework"


__all__ = [
    "COMMANDS", "FINDING_SOURCES", "CaseQueries", "CaseUseCases", "CaseView", "CaseworkApp", "CaseworkBase",
    "HistoryEntry", "Opening", "OpeningUseCases", "Outcome", "OwnerUseCases", "case_view", "finding_trigger_id",
    "history_entry",
]
