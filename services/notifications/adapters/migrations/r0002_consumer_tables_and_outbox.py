"""Notifications: the runtime's consumer tables (positions, offset hints, members, leases, partition counts), the
delivery outbox and the recipients' preferences (adapters/outbox.py), created until now by idempotent DDL at start.

Frozen: never edited (a change is a new revision; tests/migrations compares it with the DDL in the code).
"""

from services.runtime.migrations import execute_sql
from services.runtime.revisions import CONSUMER_TABLES_1

revision = "notifications_0002"
down_revision = "notifications_0001"

SQL = CONSUMER_TABLES_1 + r'''
-- the delivery outbox and the preferences (adapters/outbox.py)
CREATE TABLE IF NOT EXISTS delivery_outbox (
    delivery_id text PRIMARY KEY, notification_id text NOT NULL, channel text NOT NULL, recipient_id text NOT NULL,
    address text, template text NOT NULL, text text, township_code text NOT NULL, case_id text,
    urgent boolean NOT NULL DEFAULT false, status text NOT NULL DEFAULT 'queued', attempts int NOT NULL DEFAULT 0,
    due_at timestamptz NOT NULL, lease_owner text, lease_until timestamptz, provider_message_id text,
    created_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS delivery_outbox_due ON delivery_outbox (due_at) WHERE status = 'queued';
CREATE INDEX IF NOT EXISTS delivery_outbox_provider ON delivery_outbox (channel, provider_message_id);
CREATE TABLE IF NOT EXISTS recipient_preferences (
    user_id text PRIMARY KEY, jurisdiction_code text NOT NULL, channels jsonb NOT NULL,
    muted_templates text[] NOT NULL DEFAULT '{}', quiet_hours text, updated_at timestamptz NOT NULL
);
'''


def upgrade() -> None:
    execute_sql(SQL)


def downgrade() -> None:
    raise NotImplementedError("read models are rebuilt from events, not downgraded")
