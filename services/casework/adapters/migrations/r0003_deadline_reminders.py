"""Casework: the due-timer index's next reminder moment (issue 12: owners are reminded N days before a deadline).

Frozen: never edited (a change is a new revision).
"""

from services.runtime.migrations import execute_sql

revision = "casework_0003"
down_revision = "casework_0002"

SQL = r'''
ALTER TABLE due_timers ADD COLUMN IF NOT EXISTS remind_at timestamptz;
CREATE INDEX IF NOT EXISTS due_timers_remind ON due_timers (remind_at) WHERE status = 'pending' AND remind_at IS NOT NULL;
'''


def upgrade() -> None:
    execute_sql(SQL)


def downgrade() -> None:
    raise NotImplementedError("read models are rebuilt from events, not downgraded")
