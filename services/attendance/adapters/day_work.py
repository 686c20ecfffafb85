"""Work on school days under their advisory locks: check-in writes (binary COPY), rolls, leave, cached roster sets."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import date
from typing import AbstractSet

import orjson
import psycopg
from psycopg import errors
from psycopg.rows import tuple_row

from services.attendance.adapters.schema import partition_name
from services.attendance.domain.values import CheckinColumns, RollEntry

_COPY_CHECKINS = "COPY {table} (school_id, day, student_id, status, checked_at, device) FROM STDIN (FORMAT BINARY)"
_COPY_TYPES = ["text", "date", "text", "text", "timestamptz", "text"]
_INSERT_CHECKINS = """
INSERT INTO checkins (school_id, day, student_id, status, checked_at, device)
SELECT r.s, %s, r.i, r.st, r.a, r.d
FROM json_to_recordset(%s::json) AS r(s text, i text, st text, a timestamptz, d text)
ON CONFLICT (school_id, day, student_id) DO NOTHING
"""


class RosterCache:
    """Student ids on each school's roster on a day, kept while the school's ``roster_version`` is unchanged (LRU,
    bounded). Keyed by (school, day): the roster of a day is fixed until registry's events change the school's rows."""

    def __init__(self, max_students: int = 2_000_000) -> None:
        self.max_students = max_students
        self._sets: OrderedDict[tuple[str, date], tuple[int, frozenset[str]]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, school_id: str, day: date, version: int) -> frozenset[str] | None:
        with self._lock:
            found = self._sets.get((school_id, day))
            if found is None or found[0] != version:
                return None
            self._sets.move_to_end((school_id, day))
            return found[1]

    def put(self, school_id: str, day: date, version: int, students: frozenset[str]) -> None:
        with self._lock:
            old = self._sets.pop((school_id, day), None)
            if old is not None:
                self._size -= len(old[1])
            self._sets[(school_id, day)] = (version, students)
            self._size += len(students)
            while self._size > self.max_students and len(self._sets) > 1:
                _, (_, evicted) = self._sets.popitem(last=False)
                self._size -= len(evicted)


class PgDayWork:
    """Check-in writes and roll reads on one connection inside the day's lock."""

    def __init__(self, conn: psycopg.Connection, rosters: RosterCache | None = None) -> None:
        self.conn = conn
        self.roster_cache = rosters or RosterCache()

    def is_closed(self, school_ids: list[str], day: date) -> list[str]:
        """The schools among ``school_ids`` whose roll for ``day`` is closed."""
        rows = self.conn.execute(
            "SELECT school_id FROM closed_days WHERE day = %s AND school_id = ANY(%s::text[])", (day, school_ids)
        ).fetchall()
        return [r["school_id"] for r in rows]

    def rosters(self, school_ids: list[str], day: date) -> dict[str, AbstractSet[str]]:
        """Each school's roster on ``day`` (every stint covering it, 送教上门 included: such a child may check in):
        the school's version read every time, its students only when the version moved."""
        versions = self.conn.execute(
            "SELECT school_id, roster_version FROM schools WHERE school_id = ANY(%s::text[])", (school_ids,)
        ).fetchall()
        result: dict[str, AbstractSet[str]] = {}
        stale: dict[str, int] = {}
        for r in versions:
            cached = self.roster_cache.get(r["school_id"], day, r["roster_version"])
            if cached is None:
                stale[r["school_id"]] = r["roster_version"]
            else:
                result[r["school_id"]] = cached
        if stale:
            loaded: dict[str, set[str]] = {s: set() for s in stale}
            with self.conn.cursor(row_factory=tuple_row) as cur:
                cur.execute(
                    "SELECT school_id, student_id FROM students WHERE school_id = ANY(%s::text[]) "
                    "AND active_from <= %s AND (active_to IS NULL OR active_to > %s)",
                    (list(stale), day, day),
                )
                for school_id, student_id in cur:
                    loaded[school_id].add(student_id)
            for school_id, students in loaded.items():
                frozen = frozenset(students)
                self.roster_cache.put(school_id, day, stale[school_id], frozen)
                result[school_id] = frozen
        return result

    def insert_checkins(self, day: date, batch: CheckinColumns) -> int:
        """The whole batch in one statement, rows already stored skipped; returns how many were new."""
        if not len(batch):
            return 0
        try:
            with self.conn.transaction():
                cur = self.conn.cursor()
                with cur.copy(_COPY_CHECKINS.format(table=partition_name(day))) as copy:
                    copy.set_types(_COPY_TYPES)
                    write = copy.write_row
                    for school_id, student_id, status, at, device in batch.rows():
                        write((school_id, day, student_id, status, at, device))
                return len(batch)
        except errors.UniqueViolation:
            pass
        rows = [{"s": sc, "i": st, "st": s, "a": a, "d": d} for sc, st, s, a, d in batch.rows()]
        return self.conn.execute(_INSERT_CHECKINS, (day, orjson.dumps(rows).decode())).rowcount

    def roll(self, school_id: str, day: date) -> list[RollEntry]:
        return self.rolls([school_id], day).get(school_id, [])

    def rolls(self, school_ids: list[str], day: date) -> dict[str, list[RollEntry]]:
        """Every student expected at the schools that day (the roster valid on ``day``, 送教上门 excluded), and whether
        each checked in (one query)."""
        # One primary-key probe per student (LATERAL … LIMIT 1): a plain join or EXISTS on a day partition just
        # loaded (no statistics yet) is planned as a scan of the whole day for every chunk of schools.
        with self.conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(
                "SELECT s.school_id, s.student_id, s.township_code, c.seen IS NOT NULL FROM students s "
                "LEFT JOIN LATERAL (SELECT true AS seen FROM checkins c WHERE c.day = %s AND c.school_id = s.school_id "
                "AND c.student_id = s.student_id LIMIT 1) c ON true "
                "WHERE s.school_id = ANY(%s::text[]) AND s.expected AND s.active_from <= %s "
                "AND (s.active_to IS NULL OR s.active_to > %s) ORDER BY s.school_id, s.student_id",
                (day, school_ids, day, day),
            )
            rows = cur.fetchall()
        result: dict[str, list[RollEntry]] = {s: [] for s in school_ids}
        for school_id, student_id, township_code, checked_in in rows:
            result[school_id].append(RollEntry(student_id, township_code, checked_in))
        return result

    def seen_any(self, school_id: str, days: list[date]) -> set[str]:
        """Students of the school with a check-in on any of ``days``."""
        rows = self.conn.execute(
            "SELECT DISTINCT student_id FROM checkins WHERE school_id = %s AND day = ANY(%s::date[])", (school_id, days)
        ).fetchall()
        return {r["student_id"] for r in rows}

    # Read on this connection, not the pool's: a close holding its day locks must never wait for a second connection
    # (concurrent closes each holding one would exhaust the pool and wait for one another until the pool's timeout).
    def on_leave(self, school_id: str, day: date, student_ids: list[str]) -> set[str]:
        return on_leave(self.conn, school_id, day, student_ids)

    def on_leave_at(self, school_ids: list[str], day: date) -> dict[str, set[str]]:
        return on_leave_at(self.conn, school_ids, day)


def on_leave(conn: psycopg.Connection, school_id: str, day: date, student_ids: list[str]) -> set[str]:
    """The students among ``student_ids`` with approved leave of the school covering ``day``."""
    rows = conn.execute(
        "SELECT DISTINCT student_id FROM leaves WHERE school_id = %s AND status = 'approved' "
        "AND first_day <= %s AND last_day >= %s AND student_id = ANY(%s::text[])",
        (school_id, day, day, student_ids),
    ).fetchall()
    return {r["student_id"] for r in rows}


def on_leave_at(conn: psycopg.Connection, school_ids: list[str], day: date) -> dict[str, set[str]]:
    """Students with approved leave covering ``day``, per school (one query for a chunk of schools)."""
    rows = conn.execute(
        "SELECT DISTINCT school_id, student_id FROM leaves WHERE school_id = ANY(%s::text[]) AND status = 'approved' "
        "AND first_day <= %s AND last_day >= %s",
        (school_ids, day, day),
    ).fetchall()
    result: dict[str, set[str]] = {s: set() for s in school_ids}
    for r in rows:
        result[r["school_id"]].add(r["student_id"])
    return result
