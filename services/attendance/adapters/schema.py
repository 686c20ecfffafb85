"""Attendance read models on PostgreSQL (schema ``attendance``): roster from registry, check-ins, and the rows kept
with the event store (closed days, open detections, leave, configuration).

Check-ins are rows, not events: at 50,000/s an event each would swamp the event store and Kafka.
Only their outcome (a closed day, each absence, each flag) becomes an event.
"""

from __future__ import annotations

from datetime import date, timedelta

import psycopg

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
def migrate(db: Database) -> None:
    """Creates the read-model tables (idempotent); an unpartitioned check-in table from the skeleton is converted.
    Nothing on a schema the migration history owns (``Database.ensure_tables``): the migrations built it."""
    if db.versioned():
        return
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
                create_partition(conn, row["day"])
            conn.execute("INSERT INTO checkins SELECT * FROM checkins_unpartitioned")
            conn.execute("DROP TABLE checkins_unpartitioned")


def partition_name(day: date) -> str:
    return f"checkins_{day:%Y%m%d}"


def create_partition(conn: psycopg.Connection, day: date) -> None:
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF checkins "
        f"FOR VALUES FROM ('{day.isoformat()}') TO ('{(day + timedelta(days=1)).isoformat()}')"
    )
