"""Notifications baseline: its read-model and runtime tables exactly as the DDL strings of December 2026 built them.

Frozen: never edited (a change is a new revision; tests/migrations compares it with the DDL in the code).
"""

from services.runtime.migrations import execute_sql

revision = "notifications_0001"
down_revision = None

SQL = r'''
-- read models (adapters/projections.py)
CREATE TABLE IF NOT EXISTS projection_position (name text PRIMARY KEY, position bigint NOT NULL);
CREATE TABLE IF NOT EXISTS notification_records (
    notification_id text PRIMARY KEY, case_id text, student_id text, township_code text NOT NULL,
    recipient_role text NOT NULL, recipient_id text, template text NOT NULL, trigger_id text,
    status text NOT NULL, channel text, sent_at timestamptz, requested_at timestamptz NOT NULL, version int NOT NULL
);
CREATE INDEX IF NOT EXISTS notification_records_case ON notification_records (case_id);
CREATE INDEX IF NOT EXISTS notification_records_recipient ON notification_records (recipient_id);
CREATE INDEX IF NOT EXISTS notification_records_township ON notification_records (township_code text_pattern_ops);
CREATE TABLE IF NOT EXISTS projection_position (name text PRIMARY KEY, position bigint NOT NULL);

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
