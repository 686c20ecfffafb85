"""Notifications: students' contacts as a lookup table (``student_contacts``, issue 16) written by the consumer's
batch with its position, instead of one ``StudentContact`` aggregate per enrolled child.

Frozen: never edited (a change is a new revision; tests/migrations compares it with the DDL in the code).
"""

from services.runtime.migrations import execute_sql

revision = "notifications_0004"
down_revision = "notifications_0003"

SQL = r'''
CREATE TABLE IF NOT EXISTS student_contacts (
    student_id text PRIMARY KEY,
    township_code text NOT NULL,
    name_masked text,
    head_teacher_id text,
    head_teacher_name text,
    erased boolean NOT NULL DEFAULT false,
    pending text[] NOT NULL DEFAULT '{}',
    event_id text,
    event_time timestamptz,
    version bigint NOT NULL DEFAULT 1
);
'''


def upgrade() -> None:
    execute_sql(SQL)


def downgrade() -> None:
    raise NotImplementedError("read models are rebuilt from events, not downgraded")
