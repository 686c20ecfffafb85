"""Reporting: the runtime's consumer tables and the relay's position (the baseline lacked both), the scorecards'
weights and targets (adapters/scorecards.py) and the inspection index and alerts (adapters/inspection_index.py),
created until now by idempotent DDL at start.

Frozen: never edited (a change is a new revision; tests/migrations compares it with the DDL in the code).
"""

from services.runtime.migrations import execute_sql
from services.runtime.revisions import CONSUMER_TABLES_1, RELAY_TABLES_1

revision = "reporting_0003"
down_revision = "reporting_0002"

SQL = CONSUMER_TABLES_1 + RELAY_TABLES_1 + r'''
-- scorecards' weights and targets, versioned per jurisdiction prefix (adapters/scorecards.py)
CREATE TABLE IF NOT EXISTS scorecard_config (
    code text NOT NULL, effective_from date NOT NULL, version int NOT NULL, weights jsonb NOT NULL,
    targets jsonb NOT NULL, set_by_role text NOT NULL, set_at timestamptz NOT NULL,
    PRIMARY KEY (code, version)
);
-- the inspection index and its alerts (adapters/inspection_index.py)
CREATE TABLE IF NOT EXISTS inspection_findings (
    finding_id text PRIMARY KEY, inspection_id uuid NOT NULL, inspection_code text NOT NULL, title text NOT NULL,
    planned_on date NOT NULL, unit_code text NOT NULL, school_id text, description_code text NOT NULL,
    severity text NOT NULL, status text NOT NULL, deadline date, escalated_to text, recorded_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS inspection_findings_unit ON inspection_findings (unit_code text_pattern_ops);
CREATE INDEX IF NOT EXISTS inspection_findings_pending ON inspection_findings (deadline) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS inspection_alerts (
    finding_id text NOT NULL, kind text NOT NULL, step text NOT NULL, inspection_id uuid NOT NULL,
    recipient_code text NOT NULL, school_id text, days_left int, at timestamptz NOT NULL,
    PRIMARY KEY (finding_id, kind, step)
);
CREATE INDEX IF NOT EXISTS inspection_alerts_recipient ON inspection_alerts (recipient_code text_pattern_ops);
'''


def upgrade() -> None:
    execute_sql(SQL)


def downgrade() -> None:
    raise NotImplementedError("read models are rebuilt from events, not downgraded")
