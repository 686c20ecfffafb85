"""Reporting: the ledger's columns for the public case actions (issue 12: visits, persuasions, help, legal document
number) and the monthly report index's first submission time (issue 13: scorecards' on-time figure).

Frozen: never edited (a change is a new revision).
"""

from services.runtime.migrations import execute_sql

revision = "reporting_0002"
down_revision = "reporting_0001"

SQL = r'''
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS visits int, ADD COLUMN IF NOT EXISTS last_visit_at timestamptz,
  ADD COLUMN IF NOT EXISTS persuasions int, ADD COLUMN IF NOT EXISTS last_persuasion_outcome text,
  ADD COLUMN IF NOT EXISTS help_kinds text, ADD COLUMN IF NOT EXISTS legal_document_no text;
ALTER TABLE monthly_reports ADD COLUMN IF NOT EXISTS submitted_at timestamptz;
'''


def upgrade() -> None:
    execute_sql(SQL)


def downgrade() -> None:
    raise NotImplementedError("read models are rebuilt from events, not downgraded")
