"""Registry baseline: its read-model and runtime tables exactly as the DDL strings of December 2026 built them.

Frozen: never edited (a change is a new revision; tests/migrations compares it with the DDL in the code).
"""

from services.runtime.migrations import execute_sql

revision = "registry_0001"
down_revision = None

SQL = r'''
-- read models (adapters/readmodel/rows.py DDL)
CREATE TABLE IF NOT EXISTS school_index (id text PRIMARY KEY, code text, name text, level text, county_code text, township_code text, registered_on date, closed_on date, timeline jsonb, version int NOT NULL);
CREATE TABLE IF NOT EXISTS student_index (id text PRIMARY KEY, school_id text, county_code text, township_code text, grade int, class_name text, status text, since date, transfer_out_on date, graduated_on date, closed_reason text, placement text, name_masked text, name_blind text, version int NOT NULL);
CREATE TABLE IF NOT EXISTS child_index (id text PRIMARY KEY, student_id text, id_number_masked text, township_code text, birth_date date, status text, deferred_until date, flags text[], name_masked text, name_blind text, merged_into text, records jsonb, version int NOT NULL);
CREATE TABLE IF NOT EXISTS finding_index (id text PRIMARY KEY, kind text, episode text, student_id text, school_id text, township_code text, reason_code text, open boolean, version int NOT NULL);
CREATE TABLE IF NOT EXISTS division_index (id text PRIMARY KEY, code text, level text, parent_code text, name text, established date, ended date, merged_into text, names jsonb, version int NOT NULL);
CREATE TABLE IF NOT EXISTS rule_index (id text PRIMARY KEY, jurisdiction text, body jsonb, rules_version int, version int NOT NULL);
CREATE INDEX IF NOT EXISTS student_index_township ON student_index (township_code text_pattern_ops);
CREATE INDEX IF NOT EXISTS student_index_school ON student_index (school_id);
CREATE INDEX IF NOT EXISTS student_index_name_blind ON student_index (name_blind);
CREATE INDEX IF NOT EXISTS student_index_status ON student_index (status, township_code text_pattern_ops);
CREATE INDEX IF NOT EXISTS child_index_township ON child_index (township_code text_pattern_ops);
CREATE INDEX IF NOT EXISTS child_index_student ON child_index (student_id);
CREATE INDEX IF NOT EXISTS child_index_name_blind ON child_index (name_blind);
CREATE INDEX IF NOT EXISTS finding_index_student ON finding_index (student_id, kind);
CREATE INDEX IF NOT EXISTS school_index_code ON school_index (code);
ALTER TABLE school_index ADD COLUMN IF NOT EXISTS timeline jsonb;
ALTER TABLE student_index ADD COLUMN IF NOT EXISTS name_masked text, ADD COLUMN IF NOT EXISTS name_blind text,
    DROP COLUMN IF EXISTS name, DROP COLUMN IF EXISTS birth_date;
ALTER TABLE child_index ADD COLUMN IF NOT EXISTS name_masked text, ADD COLUMN IF NOT EXISTS name_blind text,
    DROP COLUMN IF EXISTS name;
CREATE TABLE IF NOT EXISTS projection_position (name text PRIMARY KEY, position bigint NOT NULL);

-- scheduled runs (adapters/last_run.py)
CREATE TABLE IF NOT EXISTS scheduled_runs (name text PRIMARY KEY, last_day date NOT NULL);

-- data keys (adapters/keys.py)
CREATE TABLE IF NOT EXISTS data_keys (originator_id text PRIMARY KEY, subject_id text NOT NULL,
    kek_id text NOT NULL, wrapped bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS data_keys_subject ON data_keys (subject_id);
CREATE INDEX IF NOT EXISTS data_keys_kek ON data_keys (kek_id);
-- erased children (student_id) and their aggregates' ids: no new data key for them
CREATE TABLE IF NOT EXISTS erased_subjects (subject_id text PRIMARY KEY, erased_at timestamptz NOT NULL DEFAULT now());

-- runtime: read audit (runtime/readaudit.py)
CREATE TABLE IF NOT EXISTS read_audit (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    actor_id text NOT NULL,
    actor_role text NOT NULL,
    actor_jurisdiction text NOT NULL,
    purpose text NOT NULL,
    view text NOT NULL,
    student_id text,
    case_id text,
    subject_jurisdiction text NOT NULL,
    correlation_id text
);
CREATE INDEX IF NOT EXISTS read_audit_student ON read_audit (student_id, at) WHERE student_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS read_audit_case ON read_audit (case_id, at) WHERE case_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS read_audit_scope ON read_audit (subject_jurisdiction text_pattern_ops, at);
CREATE OR REPLACE FUNCTION read_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'read_audit is append-only';
END $$;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'read_audit_append_only'
                   AND tgrelid = 'read_audit'::regclass) THEN
        CREATE TRIGGER read_audit_append_only BEFORE UPDATE OR DELETE ON read_audit
            FOR EACH ROW EXECUTE FUNCTION read_audit_append_only();
    END IF;
END $$;

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
