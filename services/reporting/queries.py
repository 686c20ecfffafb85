"""Reporting reads: the ledger and per-county figures, always inside a jurisdiction prefix, each with
the event positions it reflects (read in one snapshot, so figures and positions agree)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import psycopg

from services.reporting.projections import OPEN_SUSPECTED_STATUSES
from services.runtime.db import Database


@dataclass(frozen=True)
class Scope:
    """What a caller may see: a jurisdiction code prefix, optionally narrowed to some schools."""

    jurisdiction: str
    schools: tuple[str, ...] | None = None

    def where(self, alias: str) -> tuple[str, dict[str, Any]]:
        clause = f"{alias}.township_code LIKE %(scope)s"
        params: dict[str, Any] = {"scope": self.jurisdiction + "%"}
        if self.schools is not None:
            clause += f" AND {alias}.school_id = ANY(%(schools)s)"
            params["schools"] = list(self.schools)
        return clause, params


@dataclass(frozen=True)
class LedgerFilter:
    township_code: str | None = None
    county_code: str | None = None
    status: str | None = None


class ReportingQueries:
    """Read-only queries over the reporting schema."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def _snapshot(self) -> Iterator[psycopg.Connection]:
        with self.db.transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield conn

    @staticmethod
    def _as_of(conn: psycopg.Connection) -> list[dict[str, Any]]:
        return conn.execute("SELECT topic, sequence, event_time FROM applied_positions ORDER BY topic").fetchall()

    def ledger(self, scope: Scope, filters: LedgerFilter, page: int, page_size: int) -> dict[str, Any]:
        """One page of ledger rows, newest first, with masked names and school names."""
        where, params = scope.where("l")
        for column in ("township_code", "county_code", "status"):
            value = getattr(filters, column)
            if value is not None:
                where += f" AND l.{column} = %({column})s"
                params[column] = value
        params.update(limit=page_size, offset=(page - 1) * page_size)
        with self._snapshot() as conn:
            total = conn.execute(f"SELECT count(*) AS n FROM ledger l WHERE {where}", params).fetchone()["n"]
            rows = conn.execute(
                "SELECT l.case_id, l.student_id, st.name_masked, st.id_number_masked, l.school_id, "
                "sc.name AS school_name, l.township_code, l.county_code, l.source, l.status, l.opened_at, "
                f"l.last_event_at FROM ledger l LEFT JOIN students st USING (student_id) "
                f"LEFT JOIN schools sc ON sc.school_id = l.school_id WHERE {where} "
                "ORDER BY l.opened_at DESC, l.case_id LIMIT %(limit)s OFFSET %(offset)s",
                params,
            ).fetchall()
            as_of = self._as_of(conn)
        return {"items": rows, "total": total, "page": page, "page_size": page_size, "as_of": as_of}

    def counties(self, scope: Scope, county_code: str | None = None) -> dict[str, Any]:
        """Open suspected dropouts per county known inside the scope (counties with none count zero)."""
        ledger_where, params = scope.where("l")
        school_where, _ = scope.where("s")
        params["open"] = list(OPEN_SUSPECTED_STATUSES)
        only = ""
        if county_code is not None:
            only = " WHERE c.county_code = %(county)s"
            params["county"] = county_code
        with self._snapshot() as conn:
            counties = conn.execute(
                f"WITH scoped AS (SELECT * FROM ledger l WHERE {ledger_where}), "
                f"known AS (SELECT county_code FROM schools s WHERE {school_where} "
                "UNION SELECT county_code FROM scoped) "
                "SELECT c.county_code, count(l.case_id) FILTER (WHERE l.status = ANY(%(open)s)) "
                "AS open_suspected_dropouts, count(l.case_id) AS cases "
                f"FROM known c LEFT JOIN scoped l USING (county_code){only} GROUP BY c.county_code "
                "ORDER BY c.county_code",
                params,
            ).fetchall()
            townships = []
            if county_code is not None and counties:
                townships = conn.execute(
                    f"SELECT l.township_code, count(*) FILTER (WHERE l.status = ANY(%(open)s)) "
                    f"AS open_suspected_dropouts, count(*) AS cases FROM ledger l WHERE {ledger_where} "
                    "AND l.county_code = %(county)s GROUP BY l.township_code ORDER BY l.township_code",
                    params,
                ).fetchall()
            as_of = self._as_of(conn)
        return {"counties": counties, "townships": townships, "as_of": as_of}
