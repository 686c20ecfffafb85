"""Attendance: the runtime's consumer tables (positions, offset hints, members, leases, partition counts), created
until now by the consumer's idempotent DDL at start.

Frozen: never edited (a change is a new revision; tests/migrations compares it with the DDL in the code).
"""

from services.runtime.migrations import execute_sql
from services.runtime.revisions import CONSUMER_TABLES_1

revision = "attendance_0002"
down_revision = "attendance_0001"

SQL = CONSUMER_TABLES_1


def upgrade() -> None:
    execute_sql(SQL)


def downgrade() -> None:
    raise NotImplementedError("read models are rebuilt from events, not downgraded")
