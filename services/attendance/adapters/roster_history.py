"""The roster history (花名册): each student's stints at schools, moved by registry's lifecycle events (the consumer's
writes, batched through a per-transaction stint cache)."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Iterable, Iterator

import psycopg
from psycopg.rows import tuple_row

def upsert_school(conn: psycopg.Connection, school_id: str, county_code: str, township_code: str) -> None:
    conn.execute(
        "INSERT INTO schools (school_id, county_code, township_code) VALUES (%s, %s, %s) "
        "ON CONFLICT (school_id) DO UPDATE SET county_code = EXCLUDED.county_code, township_code = EXCLUDED.township_code",
        (school_id, county_code, township_code),
    )


SINCE_ALWAYS = date.min  # a stint without a known start (an enrolment carries no date): valid for every past roll

_STINT_COLUMNS = "school_id, active_from, active_to, township_code, grade, class_name, expected"


@dataclass(frozen=True)
class Stint:
    """One row of the roster history: the student is on the school's roster on the days [active_from, active_to)."""

    school_id: str
    active_from: date
    active_to: date | None
    township_code: str
    grade: int | None
    class_name: str | None
    expected: bool

    def covers(self, day: date) -> bool:
        return self.active_from <= day and (self.active_to is None or day < self.active_to)


_INSERT_STINTS = (  # binary arrays: psycopg's text arrays quote every element with a regular expression
    "INSERT INTO students (student_id, school_id, active_from, active_to, township_code, grade, class_name, expected) "
    "SELECT * FROM unnest(%b::text[], %b::text[], %b::date[], %b::date[], %b::text[], %b::int[], %b::text[], %b::boolean[]) "
    "ON CONFLICT (student_id, school_id, active_from) DO NOTHING"
)


@dataclass
class StintCache:
    """The stints of the students one consumer transaction touches, exact as the transaction sees them: loaded in one
    query per batch, changed the way each statement changes the table, and new stints written in one statement.

    ``known`` holds every stint of a student (an empty list: none); a student not in it is read from the table.
    ``pending`` are new stints not yet written: every other statement on ``students`` writes them first, so the
    table and the cache agree whenever SQL looks at it.
    """

    conn: psycopg.Connection
    known: dict[str, list[Stint]] = field(default_factory=dict)
    pending: list[tuple[str, Stint]] = field(default_factory=list)

    def load(self, student_ids: Iterable[str]) -> None:
        """The stints of every student not yet known, in one query; a student without any is known to have none."""
        wanted = [s for s in dict.fromkeys(student_ids) if s not in self.known]
        if not wanted:
            return
        self.flush()
        found: dict[str, list[Stint]] = {s: [] for s in wanted}
        with self.conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(
                f"SELECT student_id, {_STINT_COLUMNS} FROM students WHERE student_id = ANY(%b::text[]) "
                "ORDER BY student_id, active_from, school_id",
                (wanted,),
            )
            for student_id, *columns in cur:
                found[student_id].append(Stint(*columns))
        self.known.update(found)

    def flush(self) -> None:
        """Writes the pending stints in one statement."""
        if not self.pending:
            return
        rows, self.pending = self.pending, []
        columns = [list(c) for c in zip(*((student_id, s.school_id, s.active_from, s.active_to, s.township_code, s.grade,
                                           s.class_name, s.expected) for student_id, s in rows))]
        self.conn.execute(_INSERT_STINTS, columns)


_stint_cache: ContextVar[StintCache | None] = ContextVar("attendance_stint_cache", default=None)


@contextmanager
def stint_cache(conn: psycopg.Connection) -> Iterator[StintCache]:
    """One stint cache for the transaction on ``conn`` (a ``ProjectionSink`` scope): new stints written on the way
    out, before the commit; nothing written if the transaction fails."""
    cache = StintCache(conn)
    token = _stint_cache.set(cache)
    try:
        yield cache
        cache.flush()
    finally:
        _stint_cache.reset(token)


def _cache(conn: psycopg.Connection) -> StintCache | None:
    """The stint cache of this transaction, if one is open on this very connection."""
    cache = _stint_cache.get()
    return cache if cache is not None and cache.conn is conn else None


def load_stints(conn: psycopg.Connection, student_ids: Iterable[str]) -> None:
    """The stints of these students into the transaction's stint cache, in one query (no cache open: nothing)."""
    cache = _cache(conn)
    if cache is not None:
        cache.load(student_ids)


def _before_statement(conn: psycopg.Connection) -> StintCache | None:
    """The transaction's stint cache with its pending stints written, so a statement on ``students`` sees them."""
    cache = _cache(conn)
    if cache is not None:
        cache.flush()
    return cache


def stints(conn: psycopg.Connection, student_id: str) -> list[Stint]:
    """The student's roster history, oldest first (a few rows: one per school, suspension or placement)."""
    cache = _cache(conn)
    if cache is not None and student_id in cache.known:
        return list(cache.known[student_id])
    _before_statement(conn)
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(f"SELECT {_STINT_COLUMNS} FROM students WHERE student_id = %s ORDER BY active_from, school_id", (student_id,))
        rows = [Stint(*r) for r in cur.fetchall()]
    if cache is not None:
        cache.known[student_id] = list(rows)
    return rows


def _cached_rows(conn: psycopg.Connection, student_id: str) -> list[Stint] | None:
    """The cached stints of the student (changed in place by the write paths), or None where not cached."""
    cache = _cache(conn)
    return cache.known.get(student_id) if cache is not None else None


def start_stint(
    conn: psycopg.Connection,
    student_id: str,
    school_id: str,
    start: date,
    township_code: str,
    grade: int | None = None,
    class_name: str | None = None,
    expected: bool | None = None,
    rows: list[Stint] | None = None,
) -> None:
    """The student is on ``school_id``'s roster from ``start`` (idempotent: applying it again changes nothing).

    The stint covering ``start`` elsewhere (or here with another ``expected``) ends on ``start``; the new one runs
    until that stint's end or the student's next stint, so stints never overlap and history before ``start`` is
    kept (a stint here from ``start`` already ended on that very day — resumed and suspended again — stays ended).
    Grade, class and ``expected`` not given are carried from the student's latest stint (a 送教上门 child
    stays at home after a transfer, as the registry keeps the placement). The same stint already covering ``start``
    (a redelivered event, an enrolment sent again) only has its attributes refreshed. ``rows``: the student's
    stints as just read in this transaction (not read again).
    """
    rows = stints(conn, student_id) if rows is None else rows
    before = [r for r in rows if r.active_from <= start]
    prior = before[-1] if before else (rows[-1] if rows else None)
    grade = grade if grade is not None else (prior.grade if prior else None)
    class_name = class_name if class_name is not None else (prior.class_name if prior else None)
    expected = expected if expected is not None else (prior.expected if prior else True)
    covering = next((r for r in rows if r.covers(start)), None)
    cached = _cached_rows(conn, student_id)
    if covering is not None and covering.school_id == school_id and (
        covering.expected == expected or covering.active_from == start
    ):
        # the township stays: it is the school's (SchoolTownshipChanged), and a redelivered event carries an old one
        refreshed = (grade, class_name, expected)
        if (covering.grade, covering.class_name, covering.expected) == refreshed:
            return
        _before_statement(conn)
        conn.execute(
            "UPDATE students SET grade = %s, class_name = %s, expected = %s "
            "WHERE student_id = %s AND school_id = %s AND active_from = %s "
            "AND (grade, class_name, expected) IS DISTINCT FROM (%s::int, %s::text, %s::boolean)",
            (*refreshed, student_id, school_id, covering.active_from, *refreshed),
        )
        if cached is not None:
            cached[cached.index(covering)] = replace(covering, grade=grade, class_name=class_name, expected=expected)
        return
    ends = [r.active_from for r in rows if r.active_from > start]
    if covering is not None:
        if covering.active_to is not None:
            ends.append(covering.active_to)
        _before_statement(conn)
        conn.execute(
            "UPDATE students SET active_to = %s WHERE student_id = %s AND school_id = %s AND active_from = %s",
            (start, student_id, covering.school_id, covering.active_from),
        )
        if cached is not None:
            cached[cached.index(covering)] = replace(covering, active_to=start)
    new = Stint(school_id, start, min(ends, default=None), township_code, grade, class_name, expected)
    cache = _cache(conn)
    if cache is None or cached is None:
        _before_statement(conn)
        conn.execute(
            "INSERT INTO students (student_id, school_id, active_from, active_to, township_code, grade, class_name, expected) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (student_id, school_id, active_from) DO NOTHING",
            (student_id, school_id, start, new.active_to, township_code, grade, class_name, expected),
        )
        return
    if any((r.school_id, r.active_from) == (school_id, start) for r in cached):
        return  # the row is there (ON CONFLICT DO NOTHING would keep it as it is)
    cache.pending.append((student_id, new))
    if any(r.active_from == start for r in cached):
        # two stints from one day: their order is the table's collation of school ids, so the table says it
        del cache.known[student_id]
    else:
        cached.append(new)
        cached.sort(key=lambda r: r.active_from)


def enrol_student(
    conn: psycopg.Connection, student_id: str, school_id: str, township_code: str, grade: int, class_name: str, on: date
) -> None:
    """学籍 registered: a first enrolment is on the roster for every roll (it carries no date); an enrolment of a
    student the roster already knows is a stint from ``on`` (the event's date), or a refresh of the stint covering it."""
    cache = _cache(conn)
    known = cache.known.get(student_id) if cache is not None else None
    if known is not None and not known:  # known to have no stint (an onboarding): what start_stint would add
        new = Stint(school_id, SINCE_ALWAYS, None, township_code, grade, class_name, True)
        cache.pending.append((student_id, new))  # type: ignore[union-attr]
        known.append(new)
        return
    rows = stints(conn, student_id)
    start_stint(conn, student_id, school_id, on if rows else SINCE_ALWAYS, township_code, grade, class_name, rows=rows)


def end_stints(conn: psycopg.Connection, student_id: str, on: date, school_id: str | None = None) -> None:
    """The student is off the roster (of ``school_id``, or of every school) from ``on``: stints open on ``on`` end then.

    Idempotent and order-tolerant: an end only moves earlier, and a stint that starts on or after ``on`` (a later
    resumption or transfer, already applied) is left alone, so a redelivered end never undoes what followed it.
    """

    def ends(r: Stint) -> bool:
        return (school_id is None or r.school_id == school_id) and r.active_from < on and (
            r.active_to is None or r.active_to > on
        )

    cached = _cached_rows(conn, student_id)
    if cached is not None and not any(ends(r) for r in cached):
        return
    _before_statement(conn)
    conn.execute(
        "UPDATE students SET active_to = %s WHERE student_id = %s AND (%s::text IS NULL OR school_id = %s) "
        "AND active_from < %s AND (active_to IS NULL OR active_to > %s)",
        (on, student_id, school_id, school_id, on, on),
    )
    if cached is not None:
        cached[:] = [replace(r, active_to=on) if ends(r) else r for r in cached]


def _forget_all(conn: psycopg.Connection) -> None:
    """A school-wide statement follows: pending stints written, every cached student read again when next needed."""
    cache = _before_statement(conn)
    if cache is not None:
        cache.known.clear()


def end_school_roster(conn: psycopg.Connection, school_id: str, on: date) -> None:
    """撤并: nobody is on the school's roster from ``on`` (its children are transferred by their own events)."""
    _forget_all(conn)
    conn.execute(
        "UPDATE students SET active_to = %s WHERE school_id = %s AND active_from < %s AND (active_to IS NULL OR active_to > %s)",
        (on, school_id, on, on),
    )


def move_school_township(
    conn: psycopg.Connection, school_id: str, county_code: str, township_code: str, effective: date
) -> None:
    """乡镇撤并: the school and the stints still running on ``effective`` belong to the new township."""
    conn.execute(
        "UPDATE schools SET county_code = %s, township_code = %s WHERE school_id = %s "
        "AND (county_code, township_code) IS DISTINCT FROM (%s, %s)",
        (county_code, township_code, school_id, county_code, township_code),
    )
    _forget_all(conn)
    conn.execute(
        "UPDATE students SET township_code = %s WHERE school_id = %s AND township_code <> %s "
        "AND (active_to IS NULL OR active_to > %s)",
        (township_code, school_id, township_code, effective),
    )
