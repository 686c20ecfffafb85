"""Attendance read models on PostgreSQL (schema ``attendance``): roster from registry, check-ins, and the rows kept
with the event store (closed days, open detections, leave, configuration).

Check-ins are rows, not events: at 50,000/s an event each would swamp the event store and Kafka.
Only their outcome (a closed day, each absence, each flag) becomes an event.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import AbstractSet, Any, Iterable, Iterator

import orjson
import psycopg
from psycopg import errors
from psycopg.rows import tuple_row

from services.attendance.ports import CheckinColumns, LeaveView, RollEntry, RosterEntry, SchoolRow
from services.runtime.db import Database

DDL = """
CREATE TABLE IF NOT EXISTS schools (
    school_id text PRIMARY KEY,
    county_code text NOT NULL,
    township_code text NOT NULL
);
CREATE INDEX IF NOT EXISTS schools_by_county ON schools (county_code, school_id);
-- The roster with its history: one row per stint of a student at a school, valid on the days
-- [active_from, active_to) (active_from 0001-01-01: since before any roll; active_to NULL: open). ``expected``:
-- expected at the gate every school day (false for 送教上门: on the school's register, never absent).
CREATE TABLE IF NOT EXISTS students (
    student_id text NOT NULL,
    school_id text NOT NULL,
    active_from date NOT NULL DEFAULT '0001-01-01',
    active_to date,
    township_code text NOT NULL,
    grade int,
    class_name text,
    expected boolean NOT NULL DEFAULT true,
    PRIMARY KEY (student_id, school_id, active_from)
);
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
CREATE TABLE IF NOT EXISTS day_close_progress (
    county_code text PRIMARY KEY,
    closed_through date NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNLOGGED TABLE IF NOT EXISTS rate_buckets (
    client_id text PRIMARY KEY,
    tokens double precision NOT NULL,
    refilled_at timestamptz NOT NULL,
    granted boolean NOT NULL DEFAULT true
);
CREATE TABLE IF NOT EXISTS configuration (
    kind text NOT NULL,
    code text NOT NULL,
    body jsonb NOT NULL,
    version int NOT NULL,
    PRIMARY KEY (kind, code)
);
"""

# A roster kept before the history (one row per student, ``active``): each row becomes one stint since always (an
# inactive one an empty stint), keyed by (student, school, active_from).
ROSTER_HISTORY_DDL = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = current_schema() AND table_name = 'students' AND column_name = 'active') THEN
        ALTER TABLE students ADD COLUMN IF NOT EXISTS active_from date NOT NULL DEFAULT '0001-01-01';
        ALTER TABLE students ADD COLUMN IF NOT EXISTS active_to date;
        ALTER TABLE students ADD COLUMN IF NOT EXISTS expected boolean NOT NULL DEFAULT true;
        UPDATE students SET active_to = active_from WHERE NOT active;
        ALTER TABLE students DROP CONSTRAINT IF EXISTS students_pkey;
        ALTER TABLE students DROP COLUMN active;
        ALTER TABLE students ALTER COLUMN grade DROP NOT NULL, ALTER COLUMN class_name DROP NOT NULL;
        ALTER TABLE students ADD PRIMARY KEY (student_id, school_id, active_from);
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS students_by_school ON students (school_id, student_id) INCLUDE (active_from, active_to, expected);
"""

# Each school's roster version: the id of the last transaction that changed its students (statement triggers, so
# a COPY of a million students bumps each school once). API processes cache a school's roster as a set and read
# only the versions per batch; a transaction id never repeats, so a stale set is never taken for a fresh one.
ROSTER_VERSION_DDL = """
ALTER TABLE schools ADD COLUMN IF NOT EXISTS roster_version bigint NOT NULL DEFAULT 0;
ALTER TABLE schools ALTER COLUMN roster_version SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE OR REPLACE FUNCTION bump_roster_version() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE schools SET roster_version = pg_current_xact_id()::text::bigint;
    ELSIF TG_OP = 'INSERT' THEN
        UPDATE schools SET roster_version = pg_current_xact_id()::text::bigint
        WHERE school_id IN (SELECT DISTINCT school_id FROM changed_new);
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE schools SET roster_version = pg_current_xact_id()::text::bigint
        WHERE school_id IN (SELECT DISTINCT school_id FROM changed_old);
    ELSE
        UPDATE schools SET roster_version = pg_current_xact_id()::text::bigint
        WHERE school_id IN (SELECT school_id FROM changed_new UNION SELECT school_id FROM changed_old);
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER students_inserted AFTER INSERT ON students REFERENCING NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION bump_roster_version();
CREATE OR REPLACE TRIGGER students_updated AFTER UPDATE ON students REFERENCING NEW TABLE AS changed_new OLD TABLE AS changed_old
    FOR EACH STATEMENT EXECUTE FUNCTION bump_roster_version();
CREATE OR REPLACE TRIGGER students_deleted AFTER DELETE ON students REFERENCING OLD TABLE AS changed_old
    FOR EACH STATEMENT EXECUTE FUNCTION bump_roster_version();
CREATE OR REPLACE TRIGGER students_truncated AFTER TRUNCATE ON students
    FOR EACH STATEMENT EXECUTE FUNCTION bump_roster_version();
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

# A batch normally holds only new rows: binary COPY straight into the day's partition (the primary key refuses a
# stored row, and the savepoint undoes the attempt); a batch with a stored row goes through INSERT … ON CONFLICT
# DO NOTHING, the rows passed as one JSON document (no per-element array adaptation in Python).
_COPY_CHECKINS = "COPY {table} (school_id, day, student_id, status, checked_at, device) FROM STDIN (FORMAT BINARY)"
_COPY_TYPES = ["text", "date", "text", "text", "timestamptz", "text"]
_INSERT_CHECKINS = """
INSERT INTO checkins (school_id, day, student_id, status, checked_at, device)
SELECT r.s, %s, r.i, r.st, r.a, r.d
FROM json_to_recordset(%s::json) AS r(s text, i text, st text, a timestamptz, d text)
ON CONFLICT (school_id, day, student_id) DO NOTHING
"""


def migrate(db: Database) -> None:
    """Creates the read-model tables (idempotent); an unpartitioned check-in table from the skeleton is converted."""
    db.execute_script(DDL)
    db.execute_script(ROSTER_HISTORY_DDL)
    db.execute_script(ROSTER_VERSION_DDL)
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


_INSERT_STINTS = (
    "INSERT INTO students (student_id, school_id, active_from, active_to, township_code, grade, class_name, expected) "
    "SELECT * FROM unnest(%s::text[], %s::text[], %s::date[], %s::date[], %s::text[], %s::int[], %s::text[], %s::boolean[]) "
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
                f"SELECT student_id, {_STINT_COLUMNS} FROM students WHERE student_id = ANY(%s::text[]) "
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
        columns = [[student_id for student_id, _ in rows]] + [
            [getattr(stint, name) for _, stint in rows]
            for name in ("school_id", "active_from", "active_to", "township_code", "grade", "class_name", "expected")
        ]
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
