"""Casework: the registry's placements as a lookup table (``student_placements``, issue 16) written by the consumer's
batch with its position, instead of one ``StudentPlacement`` aggregate per enrolled child.

Frozen: never edited (a change is a new revision; tests/migrations compares it with the DDL in the code).
"""

from services.runtime.migrations import execute_sql

revision = "casework_0005"
down_revision = "casework_0004"

SQL = r'''
CREATE TABLE IF NOT EXISTS student_placements (
    student_id text PRIMARY KEY,
    school_id text NOT NULL,
    township_code text NOT NULL,
    grade int,
    class_name text,
    head_teacher_id text,
    head_teacher_name text,
    registry_version bigint,
    active boolean NOT NULL,
    event_id text,
    event_time timestamptz,
    version bigint NOT NULL DEFAULT 1
);
'''


def upgrade() -> None:
    execute_sql(SQL)


def downgrade() -> None:
    raise NotImplementedError("read models are rebuilt from events, not downgraded")
