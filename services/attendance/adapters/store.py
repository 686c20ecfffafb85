"""The attendance store on PostgreSQL: schools, rosters, leave, detections, configuration, and the day locks."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from typing import Any, Iterator

import orjson

from services.attendance.adapters.day_work import PgDayWork, RosterCache, on_leave, on_leave_at
from services.attendance.adapters.schema import create_partition, partition_name
from services.attendance.domain.values import LeaveView, RosterEntry, SchoolRow
from services.runtime.db import Database

class PgAttendanceStore:
    """The attendance store on PostgreSQL."""

    def __init__(self, db: Database, roster_cache_students: int = 2_000_000) -> None:
        self.db = db
        self._partitions: set[date] = set()
        self._rosters = RosterCache(roster_cache_students)

    def ensure_partition(self, day: date) -> None:
        """Creates the day's check-in partition in its own short transaction (cached per process)."""
        if day in self._partitions:
            return
        with self.db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('baoxue-ddl'))")
            exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL AS ok", (partition_name(day),)).fetchone()
            if not exists["ok"]:
                create_partition(conn, day)
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

    def roster(self, school_id: str, on: date) -> list[RosterEntry]:
        rows = self._all(
            "SELECT student_id, school_id, township_code, grade, class_name, true AS active, expected FROM students "
            "WHERE school_id = %s AND active_from <= %s AND (active_to IS NULL OR active_to > %s) "
            "ORDER BY grade, class_name, student_id",
            (school_id, on, on),
        )
        return [RosterEntry(**r) for r in rows]

    def on_roster(self, school_id: str, student_ids: list[str], on: date) -> set[str]:
        rows = self._all(
            "SELECT student_id FROM students WHERE school_id = %s AND active_from <= %s "
            "AND (active_to IS NULL OR active_to > %s) AND student_id = ANY(%s::text[])",
            (school_id, on, on, list(student_ids)),
        )
        return {r["student_id"] for r in rows}

    def on_rosters(self, wanted: list[tuple[str, str, date]]) -> set[tuple[str, str, date]]:
        """Each (school, student, day) is probed through ``students_by_school``; passed as one JSON array."""
        if not wanted:
            return set()
        rows = self._all(
            "SELECT DISTINCT w.school_id, w.student_id, w.day FROM json_to_recordset(%s::json) "
            "AS w(school_id text, student_id text, day date) JOIN students s ON s.school_id = w.school_id "
            "AND s.student_id = w.student_id AND s.active_from <= w.day AND (s.active_to IS NULL OR s.active_to > w.day)",
            (orjson.dumps([{"school_id": a, "student_id": b, "day": c} for a, b, c in wanted]).decode(),),
        )
        return {(r["school_id"], r["student_id"], r["day"]) for r in rows}

    def open_detections(self, student_ids: list[str]) -> dict[str, str]:
        """Open detections among the ids (passed as one JSON array: a batch holds up to 10,000)."""
        rows = self._all(
            "SELECT student_id, detection_id FROM open_detections "
            "WHERE student_id IN (SELECT json_array_elements_text(%s::json))",
            (orjson.dumps(list(student_ids)).decode(),),
        )
        return {r["student_id"]: r["detection_id"] for r in rows}

    def on_leave(self, school_id: str, day: date, student_ids: list[str]) -> set[str]:
        with self.db.transaction() as conn:
            return on_leave(conn, school_id, day, student_ids)

    def on_leave_at(self, school_ids: list[str], day: date) -> dict[str, set[str]]:
        with self.db.transaction() as conn:
            return on_leave_at(conn, school_ids, day)

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

    def closed_on(self, school_ids: list[str], day: date) -> set[str]:
        rows = self._all(
            "SELECT school_id FROM closed_days WHERE day = %s AND school_id = ANY(%s::text[])", (day, school_ids)
        )
        return {r["school_id"] for r in rows}

    def day_close_progress(self) -> dict[str, date]:
        return {r["county_code"]: r["closed_through"] for r in self._all("SELECT county_code, closed_through FROM day_close_progress")}

    def advance_day_close(self, county_code: str, day: date, only_if_new: bool = False) -> None:
        conflict = "DO NOTHING" if only_if_new else (
            "DO UPDATE SET closed_through = GREATEST(day_close_progress.closed_through, EXCLUDED.closed_through), "
            "updated_at = now()"
        )
        with self.db.transaction() as conn:
            conn.execute(
                f"INSERT INTO day_close_progress (county_code, closed_through) VALUES (%s, %s) ON CONFLICT (county_code) {conflict}",
                (county_code, day),
            )

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
            yield PgDayWork(conn, self._rosters)
