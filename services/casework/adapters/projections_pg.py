"""The case index, owners' queues and due timers in the service's PostgreSQL schema.

The position is committed beside the rows. The scheduler claims due timers with ``FOR UPDATE SKIP
LOCKED``, so several schedulers share the work and none fires a timer another is firing; the case
itself refuses a second firing, so a crash between firing and marking the row is harmless.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from services.casework.adapters.projections import (
    CaseRows,
    CaseSummary,
    FireTimer,
    QueueItem,
    RemindTimer,
    rows_for,
)
from services.runtime.ownlog import OwnEventsProjection

NAME = "case_views_v2"
DDL = """
CREATE TABLE IF NOT EXISTS case_index (
    case_id text PRIMARY KEY, student_id text NOT NULL, school_id text, township_code text NOT NULL,
    source text NOT NULL, stage text NOT NULL, opened_at timestamptz NOT NULL, version int NOT NULL
);
ALTER TABLE case_index ADD COLUMN IF NOT EXISTS next_action text;
ALTER TABLE case_index ADD COLUMN IF NOT EXISTS next_due_at timestamptz;
CREATE INDEX IF NOT EXISTS case_index_township ON case_index (township_code text_pattern_ops);
CREATE INDEX IF NOT EXISTS case_index_recent ON case_index (opened_at DESC, case_id DESC);
CREATE INDEX IF NOT EXISTS case_index_student ON case_index (student_id);
CREATE TABLE IF NOT EXISTS case_owners (
    case_id text NOT NULL, slot text NOT NULL, user_id text NOT NULL, PRIMARY KEY (case_id, slot)
);
CREATE INDEX IF NOT EXISTS case_owners_user ON case_owners (user_id);
CREATE TABLE IF NOT EXISTS due_timers (
    timer_id text PRIMARY KEY, case_id text NOT NULL, township_code text NOT NULL, kind text NOT NULL,
    step text, due_at timestamptz NOT NULL, status text NOT NULL, version int NOT NULL
);
CREATE INDEX IF NOT EXISTS due_timers_pending ON due_timers (due_at) WHERE status = 'pending';
ALTER TABLE due_timers ADD COLUMN IF NOT EXISTS remind_at timestamptz;
CREATE INDEX IF NOT EXISTS due_timers_remind ON due_timers (remind_at) WHERE status = 'pending' AND remind_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS projection_position (name text PRIMARY KEY, position bigint NOT NULL);
"""
_SUMMARY = ("case_id, student_id, school_id, township_code, source, stage, opened_at, version, next_action, "
            "next_due_at")
_LINES = {"township": "government", "village": "government", "group": "government"}


class PostgresCaseViews(OwnEventsProjection):
    """Read models in the service's schema, caught up in batches with the position row locked."""

    name = NAME
    ddl = DDL

    def write(self, conn: Any, app: Any, notifications: Any) -> None:
        for rows in rows_for(app, notifications):
            self._write(conn, rows)

    @staticmethod
    def _write(conn: Any, rows: CaseRows) -> None:
        s = rows.summary
        written = conn.execute(
            f"INSERT INTO case_index AS c ({_SUMMARY}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (case_id) DO UPDATE SET township_code = EXCLUDED.township_code, stage = EXCLUDED.stage, "
            "version = EXCLUDED.version, next_action = EXCLUDED.next_action, next_due_at = EXCLUDED.next_due_at "
            "WHERE c.version <= EXCLUDED.version RETURNING case_id",
            (s.case_id, s.student_id, s.school_id, s.township_code, s.source, s.stage, s.opened_at, s.version,
             s.next_action, s.next_due_at),
        ).fetchone()
        if written is None:
            return  # a newer state is already there
        conn.execute("DELETE FROM case_owners WHERE case_id = %s", (s.case_id,))
        for slot, user_id in rows.owners:
            conn.execute("INSERT INTO case_owners (case_id, slot, user_id) VALUES (%s, %s, %s)",
                         (s.case_id, slot, user_id))
        for t in rows.timers:
            conn.execute(
                "INSERT INTO due_timers AS t (timer_id, case_id, township_code, kind, step, due_at, status, version, "
                "remind_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (timer_id) DO UPDATE SET "
                "status = CASE WHEN t.status = 'pending' THEN EXCLUDED.status ELSE t.status END, "
                "version = EXCLUDED.version, remind_at = EXCLUDED.remind_at WHERE t.version <= EXCLUDED.version",
                (t.timer_id, t.case_id, t.township_code, t.kind, t.step, t.due_at, t.status, t.version, t.remind_at),
            )

    def search(self, prefix: str, *, stage: str | None, limit: int,
               after: tuple[datetime, str] | None) -> list[CaseSummary]:
        """Cases whose township code starts with the prefix, newest first, keyset-paginated."""
        self.ensure()
        clauses, params = ["township_code LIKE %s"], [prefix + "%"]
        if stage is not None:
            clauses.append("stage = %s")
            params.append(stage)
        if after is not None:
            clauses.append("(opened_at, case_id) < (%s, %s)")
            params.extend(after)
        query = (f"SELECT {_SUMMARY} FROM case_index WHERE {' AND '.join(clauses)} "
                 "ORDER BY opened_at DESC, case_id DESC LIMIT %s")
        with self.db.transaction() as conn:
            rows = conn.execute(query, (*params, limit)).fetchall()  # type: ignore[arg-type]
        return [CaseSummary(**r) for r in rows]

    def queue(self, user_id: str, prefix: str, *, limit: int) -> list[QueueItem]:
        """An owner's open cases, due actions first (earliest due), then the oldest."""
        self.ensure()
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT c.case_id, o.slot, c.stage, c.township_code, c.next_action, c.next_due_at, c.opened_at "
                "FROM case_owners o JOIN case_index c USING (case_id) WHERE o.user_id = %s "
                "AND c.township_code LIKE %s AND c.stage NOT IN ('closed', 'excluded') "
                "ORDER BY c.next_due_at ASC NULLS LAST, c.opened_at ASC LIMIT %s",
                (user_id, prefix + "%", limit),
            ).fetchall()
        return [QueueItem(line=_LINES.get(r["slot"], "education"), **r) for r in rows]

    def fire_due(self, now: datetime, limit: int, fire: FireTimer) -> int:
        """Fires due timers, each claimed by one scheduler at a time; returns how many were handled."""
        self.ensure()
        with self.db.transaction() as conn:
            due = conn.execute(
                "SELECT timer_id, case_id FROM due_timers WHERE status = 'pending' AND due_at <= %s "
                "ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED", (now, limit),
            ).fetchall()
            for row in due:
                fire(UUID(row["case_id"]), row["timer_id"])
                conn.execute("UPDATE due_timers SET status = 'fired' WHERE timer_id = %s", (row["timer_id"],))
        return len(due)

    def remind_due(self, now: datetime, limit: int, remind: RemindTimer) -> int:
        """Reminds pending timers whose next reminder is due, each claimed by one scheduler at a time; the row keeps
        the timer's next reminder moment (the case refuses a second reminder, so a crash in between is harmless)."""
        self.ensure()
        with self.db.transaction() as conn:
            due = conn.execute(
                "SELECT timer_id, case_id FROM due_timers WHERE status = 'pending' AND remind_at <= %s "
                "ORDER BY remind_at LIMIT %s FOR UPDATE SKIP LOCKED", (now, limit),
            ).fetchall()
            for row in due:
                following = remind(UUID(row["case_id"]), row["timer_id"])
                conn.execute("UPDATE due_timers SET remind_at = %s WHERE timer_id = %s", (following, row["timer_id"]))
        return len(due)

    def next_due(self) -> datetime | None:
        """When the earliest pending timer falls due or its next reminder is (None: none pending)."""
        self.ensure()
        with self.db.transaction() as conn:
            return conn.execute("SELECT least(min(due_at), min(remind_at)) AS due FROM due_timers "
                                "WHERE status = 'pending'").fetchone()["due"]

    def open_by_county(self, now: datetime) -> dict[str, tuple[int, int]]:
        """County code -> (cases not closed, those whose next step's due time has passed by ``now``): one pass over
        the case index (the scheduler's gauges, refreshed every 30 s)."""
        self.ensure()
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT left(township_code, 6) AS county, count(*) AS open, "
                "count(*) FILTER (WHERE next_due_at <= %s) AS overdue FROM case_index "
                "WHERE stage NOT IN ('closed', 'excluded') GROUP BY 1", (now,),
            ).fetchall()
        return {r["county"]: (r["open"], r["overdue"]) for r in rows}

    def drop(self) -> None:
        """Forgets everything, so the next catch-up rebuilds the read models from the first event."""
        self.ensure()
        with self.db.transaction() as conn:
            conn.execute("TRUNCATE case_index, case_owners, due_timers")
            conn.execute("DELETE FROM projection_position WHERE name = %s", (NAME,))
