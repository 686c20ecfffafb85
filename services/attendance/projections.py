"""Attendance read models on PostgreSQL (schema ``attendance``): roster from registry, check-ins, and the rows kept
with the event store (closed days, open detections, leave, configuration).

Check-ins are rows, not events: at 50,000/s an event each would swamp the event store and Kafka.
Only their outcome (a closed day, each absence, each flag) becomes an event.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any, Iterator

import psycopg

from services.attendance.ports import CheckinRow, LeaveView, RollEntry, RosterEntry, SchoolRow
from services.runtime.db import Database

DDL = """
CREATE TABLE IF NOT EXISTS schools (
    school_id text PRIMARY KEY,
    county_code text NOT NULL,
    township_code text NOT NULL
);
CREATE INDEX IF NOT EXISTS schools_by_county ON schools (county_code, school_id);
CREATE TABLE IF NOT EXISTS students (
    student_id text PRIMARY KEY,
    school_id text NOT NULL,
    township_code text NOT NULL,
    grade int NOT NULL,
    class_name text NOT NULL,
    active boolean NOT NULL DEFAULT true
);
CREATE INDEX IF NOT EXISTS students_active_by_school ON students (school_id, student_id) WHERE active;
CREATE TABLE IF NOT EXISTS closed_days (
    school_id text NOT NULL,
    day date NOT NULL,
    PRIMARY KEY (school_id, day)
);
CREATE TABLE IF NOT EXISTS open_detections (
    student_id text PRIMARY KEY,
    detection_id text NOT NULL,
    school_id text NOT NULL,
    township_code text NOT NULL
);
CREATE TABLE IF NOT EXISTS leaves (
    leave_id text PRIMARY KEY,
    student_id text NOT NULL,
    school_id text NOT NULL,
    township_code text NOT NULL,
    first_day date NOT NULL,
    last_day date NOT NULL,
    kind text NOT NULL,
    status text NOT NULL,
    school_days int NOT NULL
);
CREATE INDEX IF NOT EXISTS leaves_by_school_day ON leaves (school_id, first_day, last_day) WHERE status = 'approved';
CREATE TABLE IF NOT EXISTS configuration (
    kind text NOT NULL,
    code text NOT NULL,
    body jsonb NOT NULL,
    version int NOT NULL,
    PRIMARY KEY (kind, code)
);
"""

# Check-ins: range-partitioned by day (one partition per school day, created on first use), so a day's close
# scans one small table and old days are detached or dropped whole.
CHECKINS_DDL = """
CREATE TABLE IF NOT EXISTS checkins (
    school_id text NOT NULL,
    day date NOT NULL,
    student_id text NOT NULL,
    status text NOT NULL CHECK (status IN ('present', 'late', 'left_early')),
    checked_at timestamptz,
    device text,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (school_id, day, student_id)
) PARTITION BY RANGE (day);
"""

_INSERT_CHECKINS = """
INSERT INTO checkins (school_id, day, student_id, status, checked_at, device)
SELECT r.school_id, %s, r.student_id, r.status, r.checked_at, r.device
FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::text[])
    AS r(school_id, student_id, status, checked_at, device)
ON CONFLICT (school_id, day, student_id) DO NOTHING
"""


def migrate(db: Database) -> None:
    """Creates the read-model tables (idempotent); an unpartitioned check-in table from the skeleton is converted."""
    db.execute_script(DDL)
    with db.transaction() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('baoxue-ddl'))")
        kind = conn.execute(
            "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relname = 'checkins'"
        ).fetchone()
        if kind and kind["relkind"] == "r":
            conn.execute("ALTER TABLE checkins RENAME TO checkins_unpartitioned")
            conn.execute("ALTER INDEX IF EXISTS checkins_pkey RENAME TO checkins_unpartitioned_pkey")
        conn.execute(CHECKINS_DDL)
        if kind and kind["relkind"] == "r":
            days = conn.execute("SELECT DISTINCT day FROM checkins_unpartitioned").fetchall()
            for row in days:
                _create_partition(conn, row["day"])
            conn.execute("INSERT INTO checkins SELECT * FROM checkins_unpartitioned")
            conn.execute("DROP TABLE checkins_unpartitioned")


def partition_name(day: date) -> str:
    return f"checkins_{day:%Y%m%d}"


def _create_partition(conn: psycopg.Connection, day: date) -> None:
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF checkins "
        f"FOR VALUES FROM ('{day.isoformat()}') TO ('{(day + timedelta(days=1)).isoformat()}')"
    )


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

    def is_closed(self, school_ids: list[str], day: date) -> list[str]:
        """The schools among ``school_ids`` whose roll for ``day`` is closed."""
        rows = self.conn.execute(
            "SELECT school_id FROM closed_days WHERE day = %s AND school_id = ANY(%s::text[])", (day, school_ids)
        ).fetchall()
        return [r["school_id"] for r in rows]

    def roster_schools(self, student_ids: list[str]) -> dict[str, str]:
        """Active students among ``student_ids`` → their school."""
        rows = self.conn.execute(
            "SELECT student_id, school_id FROM students WHERE active AND student_id = ANY(%s::text[])", (student_ids,)
        ).fetchall()
        return {r["student_id"]: r["school_id"] for r in rows}

    def insert_checkins(self, school_id: str | list[str], day: date, rows: list[CheckinRow]) -> int:
        """One statement for the whole batch (arrays unnested server-side), duplicates skipped."""
        if not rows:
            return 0
        schools = school_id if isinstance(school_id, list) else [school_id] * len(rows)
        params = (
            day,
            schools,
            [r.student_id for r in rows],
            [r.status for r in rows],
            [r.checked_at for r in rows],
            [r.device for r in rows],
        )
        return self.conn.execute(_INSERT_CHECKINS, params).rowcount

    def roll(self, school_id: str, day: date) -> list[RollEntry]:
        return self.rolls([school_id], day).get(school_id, [])

    def rolls(self, school_ids: list[str], day: date) -> dict[str, list[RollEntry]]:
        """Every active student of the schools, and whether each checked in that day (one query)."""
        rows = self.conn.execute(
            "SELECT s.school_id, s.student_id, s.township_code, (c.student_id IS NOT NULL) AS checked_in FROM students s "
            "LEFT JOIN checkins c ON c.day = %s AND c.school_id = s.school_id AND c.student_id = s.student_id "
            "WHERE s.school_id = ANY(%s::text[]) AND s.active ORDER BY s.school_id, s.student_id",
            (day, school_ids),
        ).fetchall()
        result: dict[str, list[RollEntry]] = {s: [] for s in school_ids}
        for r in rows:
            result[r["school_id"]].append(RollEntry(r["student_id"], r["township_code"], r["checked_in"]))
        return result

    def seen_any(self, school_id: str, days: list[date]) -> set[str]:
        """Students of the school with a check-in on any of ``days``."""
        rows = self.conn.execute(
            "SELECT DISTINCT student_id FROM checkins WHERE school_id = %s AND day = ANY(%s::date[])", (school_id, days)
        ).fetchall()
        return {r["student_id"] for r in rows}


class PgAttendanceStore:
    """The attendance store on PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._partitions: set[date] = set()

    def ensure_partition(self, day: date) -> None:
        """Creates the day's check-in partition in its own short transaction (cached per process)."""
        if day in self._partitions:
            return
        with self.db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('baoxue-ddl'))")
            exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL AS ok", (partition_name(day),)).fetchone()
            if not exists["ok"]:
                _create_partition(conn, day)
        self._partitions.add(day)

    def _all(self, query: str, params: Any = ()) -> list[dict[str, Any]]:
        with self.db.transaction() as conn:
            return conn.execute(query, params).fetchall()

    def school(self, school_id: str) -> SchoolRow | None:
        rows = self._all("SELECT school_id, county_code, township_code FROM schools WHERE school_id = %s", (school_id,))
        return SchoolRow(**rows[0]) if rows else None

    def schools(self, county_code: str | None = None) -> list[SchoolRow]:
        if county_code is None:
            rows = self._all("SELECT school_id, county_code, township_code FROM schools ORDER BY school_id")
        else:
            rows = self._all(
                "SELECT school_id, county_code, township_code FROM schools WHERE county_code = %s ORDER BY school_id",
                (county_code,),
            )
        return [SchoolRow(**r) for r in rows]

    def schools_by_id(self, school_ids: list[str]) -> dict[str, SchoolRow]:
        rows = self._all(
            "SELECT school_id, county_code, township_code FROM schools WHERE school_id = ANY(%s::text[])", (school_ids,)
        )
        return {r["school_id"]: SchoolRow(**r) for r in rows}

    def roster(self, school_id: str) -> list[RosterEntry]:
        rows = self._all(
            "SELECT student_id, school_id, township_code, grade, class_name, active FROM students "
            "WHERE school_id = %s AND active ORDER BY grade, class_name, student_id",
            (school_id,),
        )
        return [RosterEntry(**r) for r in rows]

    def on_roster(self, school_id: str, student_ids: list[str]) -> set[str]:
        rows = self._all(
            "SELECT student_id FROM students WHERE school_id = %s AND active AND student_id = ANY(%s::text[])",
            (school_id, list(student_ids)),
        )
        return {r["student_id"] for r in rows}

    def open_detections(self, student_ids: list[str]) -> dict[str, str]:
        rows = self._all(
            "SELECT student_id, detection_id FROM open_detections WHERE student_id = ANY(%s::text[])", (student_ids,)
        )
        return {r["student_id"]: r["detection_id"] for r in rows}

    def on_leave(self, school_id: str, day: date, student_ids: list[str]) -> set[str]:
        rows = self._all(
            "SELECT DISTINCT student_id FROM leaves WHERE school_id = %s AND status = 'approved' "
            "AND first_day <= %s AND last_day >= %s AND student_id = ANY(%s::text[])",
            (school_id, day, day, student_ids),
        )
        return {r["student_id"] for r in rows}

    def leaves(self, school_id: str, on: date | None = None, min_school_days: int = 0) -> list[LeaveView]:
        query = (
            "SELECT leave_id, student_id, school_id, first_day, last_day, kind, status, school_days FROM leaves "
            "WHERE school_id = %s AND school_days >= %s"
        )
        params: list[Any] = [school_id, min_school_days]
        if on is not None:
            query += " AND first_day <= %s AND last_day >= %s"
            params += [on, on]
        rows = self._all(query + " ORDER BY first_day, student_id", params)
        return [LeaveView(**r) for r in rows]

    def configuration(self, kind: str) -> dict[str, tuple[dict[str, Any], int]]:
        rows = self._all("SELECT code, body, version FROM configuration WHERE kind = %s", (kind,))
        return {r["code"]: (r["body"], r["version"]) for r in rows}

    def apply(self, changes: list[Any]) -> None:
        """Not used on PostgreSQL: the recorder writes changes with the events."""
        raise AssertionError("PostgreSQL read-model changes are written by AttendanceRecorder")

    @contextmanager
    def day_work(self, school_id: str | list[str], day: date, exclusive: bool) -> Iterator[PgDayWork]:
        """Check-ins share each day's advisory lock; closing holds it alone, so no check-in slips past a close."""
        lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        schools = sorted(set(school_id if isinstance(school_id, list) else [school_id]))
        with self.db.transaction() as conn:
            conn.execute(
                f"SELECT {lock}(hashtextextended('attendance-day:' || s || ':' || %s, 0)) FROM unnest(%s::text[]) AS s",
                (day.isoformat(), schools),
            )
            yield PgDayWork(conn)
