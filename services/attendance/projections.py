"""Attendance read models on PostgreSQL (schema ``attendance``): the roster from registry, and check-ins.

Check-ins are rows, not events: at 50,000/s an event each would swamp the event store and Kafka.
Only their outcome (a closed day, each absence, each flag) becomes an event.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from typing import Iterator

import psycopg

from services.attendance.ports import CheckinRow, RollEntry, RosterEntry, SchoolRow
from services.runtime.db import Database

DDL = """
CREATE TABLE IF NOT EXISTS schools (
    school_id text PRIMARY KEY,
    county_code text NOT NULL,
    township_code text NOT NULL
);
CREATE TABLE IF NOT EXISTS students (
    student_id text PRIMARY KEY,
    school_id text NOT NULL,
    township_code text NOT NULL,
    grade int NOT NULL,
    class_name text NOT NULL,
    active boolean NOT NULL DEFAULT true
);
CREATE INDEX IF NOT EXISTS students_active_by_school ON students (school_id, student_id) WHERE active;
CREATE TABLE IF NOT EXISTS checkins (
    school_id text NOT NULL,
    day date NOT NULL,
    student_id text NOT NULL,
    status text NOT NULL CHECK (status IN ('present', 'late', 'left_early')),
    checked_at timestamptz,
    device text,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, day, student_id)
);
"""

_INSERT_CHECKINS = """
INSERT INTO checkins (school_id, day, student_id, status, checked_at, device)
SELECT %s, %s, r.student_id, r.status, r.checked_at, r.device
FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::text[]) AS r(student_id, status, checked_at, device)
ON CONFLICT (school_id, day, student_id) DO NOTHING
"""


def migrate(db: Database) -> None:
    """Creates the read-model tables (idempotent)."""
    db.execute_script(DDL)


def upsert_school(conn: psycopg.Connection, school_id: str, county_code: str, township_code: str) -> None:
    conn.execute(
        "INSERT INTO schools (school_id, county_code, township_code) VALUES (%s, %s, %s) "
        "ON CONFLICT (school_id) DO UPDATE SET county_code = EXCLUDED.county_code, township_code = EXCLUDED.township_code",
        (school_id, county_code, township_code),
    )


def upsert_student(
    conn: psycopg.Connection, student_id: str, school_id: str, township_code: str, grade: int, class_name: str
) -> None:
    conn.execute(
        "INSERT INTO students (student_id, school_id, township_code, grade, class_name, active) "
        "VALUES (%s, %s, %s, %s, %s, true) ON CONFLICT (student_id) DO UPDATE SET school_id = EXCLUDED.school_id, "
        "township_code = EXCLUDED.township_code, grade = EXCLUDED.grade, class_name = EXCLUDED.class_name, active = true",
        (student_id, school_id, township_code, grade, class_name),
    )


class PgDayWork:
    """Check-in writes and roll reads on one connection inside the day's lock."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def insert_checkins(self, school_id: str, day: date, rows: list[CheckinRow]) -> int:
        """One statement for the whole batch (arrays unnested server-side), duplicates skipped."""
        if not rows:
            return 0
        cursor = self.conn.execute(
            _INSERT_CHECKINS,
            (
                school_id,
                day,
                [r.student_id for r in rows],
                [r.status for r in rows],
                [r.checked_at for r in rows],
                [r.device for r in rows],
            ),
        )
        return cursor.rowcount

    def roll(self, school_id: str, day: date) -> list[RollEntry]:
        rows = self.conn.execute(
            "SELECT s.student_id, s.township_code, (c.student_id IS NOT NULL) AS checked_in FROM students s "
            "LEFT JOIN checkins c ON c.school_id = s.school_id AND c.day = %s AND c.student_id = s.student_id "
            "WHERE s.school_id = %s AND s.active ORDER BY s.student_id",
            (day, school_id),
        ).fetchall()
        return [RollEntry(r["student_id"], r["township_code"], r["checked_in"]) for r in rows]


class PgAttendanceStore:
    """The attendance store on PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def school(self, school_id: str) -> SchoolRow | None:
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT school_id, county_code, township_code FROM schools WHERE school_id = %s", (school_id,)
            ).fetchone()
        return SchoolRow(**row) if row else None

    def schools(self) -> list[SchoolRow]:
        with self.db.transaction() as conn:
            rows = conn.execute("SELECT school_id, county_code, township_code FROM schools ORDER BY school_id").fetchall()
        return [SchoolRow(**r) for r in rows]

    def roster(self, school_id: str) -> list[RosterEntry]:
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT student_id, school_id, township_code, grade, class_name, active FROM students "
                "WHERE school_id = %s AND active ORDER BY grade, class_name, student_id",
                (school_id,),
            ).fetchall()
        return [RosterEntry(**r) for r in rows]

    def on_roster(self, school_id: str, student_ids: list[str]) -> set[str]:
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT student_id FROM students WHERE school_id = %s AND active AND student_id = ANY(%s::text[])",
                (school_id, list(student_ids)),
            ).fetchall()
        return {r["student_id"] for r in rows}

    @contextmanager
    def day_work(self, school_id: str, day: date, exclusive: bool) -> Iterator[PgDayWork]:
        """Check-ins share the day's advisory lock; closing holds it alone, so no check-in slips past a close."""
        lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        with self.db.transaction() as conn:
            conn.execute(f"SELECT {lock}(hashtextextended(%s, 0))", (f"attendance-day:{school_id}:{day.isoformat()}",))
            yield PgDayWork(conn)
