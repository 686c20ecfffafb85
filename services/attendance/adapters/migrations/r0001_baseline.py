"""Attendance baseline: its read-model and runtime tables exactly as the DDL strings of December 2026 built them.

Frozen: never edited (a change is a new revision; tests/migrations compares it with the DDL in the code).
"""

from services.runtime.migrations import execute_sql

revision = "attendance_0001"
down_revision = None

SQL = r'''
-- read models (adapters/schema.py DDL)
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

-- roster history
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

-- roster versions
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

-- check-ins, partitioned by day (partitions are created per day at run time)
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

-- runtime: shared rate limiter (runtime/ratelimit.py)
CREATE UNLOGGED TABLE IF NOT EXISTS rate_buckets (
    client_id text PRIMARY KEY,
    tokens double precision NOT NULL,
    refilled_at timestamptz NOT NULL,
    granted boolean NOT NULL DEFAULT true
);

-- runtime: relay position (runtime/relay.py)
CREATE TABLE IF NOT EXISTS relay_position (
    topic text PRIMARY KEY,
    position bigint NOT NULL,
    cluster_id text,
    chain jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE relay_position ADD COLUMN IF NOT EXISTS partitions jsonb;
'''


def upgrade() -> None:
    execute_sql(SQL)


def downgrade() -> None:
    raise NotImplementedError("read models are rebuilt from events, not downgraded")
