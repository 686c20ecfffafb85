"""Casework baseline: its read-model and runtime tables exactly as the DDL strings of December 2026 built them.

Frozen: never edited (a change is a new revision; tests/migrations compares it with the DDL in the code).
"""

from services.runtime.migrations import execute_sql

revision = "casework_0001"
down_revision = None

SQL = r'''
-- read models (adapters/projections_pg.py)
CREATE TABLE IF NOT EXISTS projection_position (name text PRIMARY KEY, position bigint NOT NULL);
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
CREATE TABLE IF NOT EXISTS projection_position (name text PRIMARY KEY, position bigint NOT NULL);

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
