"""Attendance: the relay's positions per topic partition (``relay_partitions``) and the lease tables its replicas share
the partitions by, so several relay replicas publish at once (services/runtime/README.md, *Replicas*).

Frozen: never edited (a change is a new revision; tests/migrations compares it with the DDL in the code).
"""

from services.runtime.migrations import execute_sql
from services.runtime.revisions import RELAY_TABLES_2

revision = "attendance_0004"
down_revision = "attendance_0003"

SQL = RELAY_TABLES_2


def upgrade() -> None:
    execute_sql(SQL)


def downgrade() -> None:
    raise NotImplementedError("read models are rebuilt from events, not downgraded")
