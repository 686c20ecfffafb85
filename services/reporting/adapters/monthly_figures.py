"""A month's figures for every unit, from the inbox folded up to the month's end by effective time (when things
happened), with the event positions they cover: what a monthly report seals and restates."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from services.reporting.adapters import dashboards
from services.reporting.adapters.queries import Scope, View
from services.reporting.adapters.rebuild import as_of
from services.reporting.domain.monthly import month_bounds
from services.runtime.db import Database


def _json(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


class MonthFigures:
    """Figures per unit as now known (``application.ports.MonthFigures``)."""

    def __init__(self, db: Database, targets: dict[str, dict[str, float]]) -> None:
        self.db, self.targets = db, targets

    def compute(self, month: str, root: str = "") -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        """Every unit's figures for the month as now known, and the event positions they cover."""
        _, cutoff = month_bounds(month)
        with self.db.transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            positions = conn.execute(
                "SELECT topic, partition, max(sequence) AS sequence, count(*) AS events FROM inbox "
                "WHERE effective_time < %s GROUP BY topic, partition ORDER BY topic, partition", (cutoff,)
            ).fetchall()
            with as_of(conn, effective_before=cutoff):
                view = View(conn, cutoff, cutoff, {})
                units = dashboards.all_units(view, Scope(root), self.targets)
        covered = {"cutoff": cutoff.isoformat(), "partitions": _json([dict(p) for p in positions])}
        return {u: _json(v) for u, v in units.items()}, covered
