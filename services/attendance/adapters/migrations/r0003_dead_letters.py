"""Attendance: the consumer's dead letters (``consumer_dead_letters``: recorded once per message identity in the
fenced transaction that skips it; ``baoxue deadletters`` lists and replays them).

Frozen: never edited (a change is a new revision; tests/migrations compares it with the DDL in the code).
"""

from services.runtime.migrations import execute_sql
from services.runtime.revisions import DEAD_LETTERS_1

revision = "attendance_0003"
down_revision = "attendance_0002"

SQL = DEAD_LETTERS_1


def upgrade() -> None:
    execute_sql(SQL)


def downgrade() -> None:
    raise NotImplementedError("read models are rebuilt from events, not downgraded")
