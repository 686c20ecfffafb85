"""The jurisdiction checks the routes share: a child's own jurisdiction (its registration, else its residence)."""

from __future__ import annotations

from typing import Any

from services.registry.application.registry import Registry
from services.registry.domain.registration import normalise_id_number
from services.runtime.auth import require_scope


def scoped_home(registry: Registry, actor: Any, student_id: str, absent_ok: bool = False) -> None:
    """403 unless the child's own jurisdiction (its registration, else its residence) is the caller's."""
    codes = registry.queries.child_jurisdictions(student_id)
    if codes or not absent_ok:
        require_scope(actor, next((c for c in codes if actor.covers(c)), codes[0] if codes else None), "儿童")


def scoped_child(registry: Registry, actor: Any, id_number: str) -> None:
    """403 unless the population record's township is the caller's."""
    require_scope(actor, registry.population.child_record(normalise_id_number(id_number)).township_code, "儿童")
