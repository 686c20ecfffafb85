"""Read model of casework's own events: the case index behind jurisdiction lists (derived, rebuildable).

The index follows the service's notification log from a stored position and is caught up lazily,
in batches, right before a list query, so a caller always reads its own writes and no extra process
or thread is needed. Concurrent catch-ups serialise on the position row; replays are idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Iterable, Protocol

from eventsourcing.utils import get_topic

from services.casework.domain import Case
from services.runtime.db import Database

NAME = "case_index"

CASE_INDEX_DDL = """
CREATE TABLE IF NOT EXISTS case_index (
    case_id text PRIMARY KEY,
    student_id text NOT NULL,
    school_id text,
    township_code text NOT NULL,
    source text NOT NULL,
    stage text NOT NULL,
    opened_at timestamptz NOT NULL,
    version int NOT NULL
);
CREATE INDEX IF NOT EXISTS case_index_township ON case_index (township_code text_pattern_ops);
CREATE INDEX IF NOT EXISTS case_index_recent ON case_index (opened_at DESC, case_id DESC);
CREATE INDEX IF NOT EXISTS case_index_student ON case_index (student_id);
CREATE TABLE IF NOT EXISTS projection_position (name text PRIMARY KEY, position bigint NOT NULL);
"""


@dataclass(frozen=True)
class CaseSummary:
    """One row of the case ledger (台账) as lists show it."""

    case_id: str
    student_id: str
    school_id: str | None
    township_code: str
    source: str
    stage: str
    opened_at: datetime
    version: int


TOPICS = frozenset({get_topic(Case.Opened)})  # the full issue adds each stage-changing event here


def summary_change(domain_event: Any) -> CaseSummary | None:
    """What one stored event does to the index (None: nothing)."""
    if isinstance(domain_event, Case.Opened):
        return CaseSummary(
            case_id=str(domain_event.originator_id),
            student_id=domain_event.student_id,
            school_id=domain_event.school_id,
            township_code=domain_event.township_code,
            source=domain_event.source,
            stage="suspected",
            opened_at=domain_event.opened_at,
            version=domain_event.originator_version,
        )
    return None


def changes(app: Any, notifications: Iterable[Any]) -> list[CaseSummary]:
    """Index changes of a batch of notifications (only index topics are decoded)."""
    found = []
    for notification in notifications:
        if notification.topic in TOPICS:
            change = summary_change(app.mapper.to_domain_event(notification))
            if change is not None:
                found.append(change)
    return found


class CaseIndex(Protocol):
    """Where case summaries are kept and searched."""

    def catch_up(self, app: Any) -> int: ...

    def search(
        self, prefix: str, *, stage: str | None, limit: int, after: tuple[datetime, str] | None
    ) -> list[CaseSummary]: ...


class PostgresCaseIndex:
    """The case index in the service's schema, with its position committed beside its rows."""

    def __init__(self, db: Database, batch_size: int = 500) -> None:
        self.db = db
        self.batch_size = batch_size
        self._ready = False

    def ensure(self) -> None:
        if not self._ready:
            self.db.execute_script(CASE_INDEX_DDL)
            self._ready = True

    def position(self) -> int:
        self.ensure()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT position FROM projection_position WHERE name = %s", (NAME,)).fetchone()
        return row["position"] if row else 0

    def catch_up(self, app: Any) -> int:
        """Applies every new event in batches; returns the position reached."""
        position = self.position()
        if (app.recorder.max_notification_id() or 0) <= position:
            return position
        while True:
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT INTO projection_position (name, position) VALUES (%s, 0) ON CONFLICT DO NOTHING", (NAME,)
                )
                position = conn.execute(
                    "SELECT position FROM projection_position WHERE name = %s FOR UPDATE", (NAME,)
                ).fetchone()["position"]
                batch = app.recorder.select_notifications(start=position + 1, limit=self.batch_size)
                if not batch:
                    return position
                for row in changes(app, batch):
                    self._upsert(conn, row)
                position = batch[-1].id
                conn.execute("UPDATE projection_position SET position = %s WHERE name = %s", (position, NAME))
            if len(batch) < self.batch_size:
                return position

    @staticmethod
    def _upsert(conn: Any, row: CaseSummary) -> None:
        conn.execute(
            "INSERT INTO case_index AS c (case_id, student_id, school_id, township_code, source, stage, opened_at, "
            "version) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (case_id) DO UPDATE SET "
            "township_code = EXCLUDED.township_code, stage = EXCLUDED.stage, version = EXCLUDED.version "
            "WHERE c.version < EXCLUDED.version",
            (row.case_id, row.student_id, row.school_id, row.township_code, row.source, row.stage, row.opened_at,
             row.version),
        )

    def search(
        self, prefix: str, *, stage: str | None, limit: int, after: tuple[datetime, str] | None
    ) -> list[CaseSummary]:
        """Cases whose township code starts with the prefix, newest first, keyset-paginated."""
        self.ensure()
        clauses, params = ["township_code LIKE %s"], [prefix + "%"]
        if stage is not None:
            clauses.append("stage = %s")
            params.append(stage)
        if after is not None:
            clauses.append("(opened_at, case_id) < (%s, %s)")
            params.extend(after)
        query = (
            "SELECT case_id, student_id, school_id, township_code, source, stage, opened_at, version "
            f"FROM case_index WHERE {' AND '.join(clauses)} ORDER BY opened_at DESC, case_id DESC LIMIT %s"
        )
        with self.db.transaction() as conn:
            rows = conn.execute(query, (*params, limit)).fetchall()  # type: ignore[arg-type]
        return [CaseSummary(**r) for r in rows]

    def drop(self) -> None:
        """Forgets everything, so the next catch-up rebuilds the index from the first event."""
        self.ensure()
        with self.db.transaction() as conn:
            conn.execute("TRUNCATE case_index")
            conn.execute("DELETE FROM projection_position WHERE name = %s", (NAME,))


class MemoryCaseIndex:
    """The same index in a dict: a fake for in-memory tests and single-process tools."""

    def __init__(self, batch_size: int = 500) -> None:
        self.batch_size = batch_size
        self.rows: dict[str, CaseSummary] = {}
        self.position = 0

    def catch_up(self, app: Any) -> int:
        while batch := app.recorder.select_notifications(start=self.position + 1, limit=self.batch_size):
            for row in changes(app, batch):
                old = self.rows.get(row.case_id)
                if old is None:
                    self.rows[row.case_id] = row
                elif old.version < row.version:
                    self.rows[row.case_id] = replace(old, township_code=row.township_code, stage=row.stage,
                                                     version=row.version)
            self.position = batch[-1].id
        return self.position

    def search(
        self, prefix: str, *, stage: str | None, limit: int, after: tuple[datetime, str] | None
    ) -> list[CaseSummary]:
        rows = sorted(self.rows.values(), key=lambda r: (r.opened_at, r.case_id), reverse=True)
        rows = [r for r in rows if r.township_code.startswith(prefix) and (stage is None or r.stage == stage)]
        if after is not None:
            rows = [r for r in rows if (r.opened_at, r.case_id) < after]
        return rows[:limit]
