"""Casework: the runtime's consumer tables (positions, offset hints, members, leases, partition counts) and the
evidence photos (adapters/photos_pg.py), created until now by idempotent DDL at start.

Frozen: never edited (a change is a new revision; tests/migrations compares it with the DDL in the code).
"""

from services.runtime.migrations import execute_sql
from services.runtime.revisions import CONSUMER_TABLES_1

revision = "casework_0002"
down_revision = "casework_0001"

SQL = CONSUMER_TABLES_1 + r'''
-- evidence photos (adapters/photos_pg.py)
CREATE TABLE IF NOT EXISTS evidence_photos (
    case_id text NOT NULL, sha256 text NOT NULL, media_type text NOT NULL, size_bytes int NOT NULL,
    data bytea NOT NULL, uploaded_by text NOT NULL, uploaded_at timestamptz NOT NULL,
    PRIMARY KEY (case_id, sha256)
);
'''


def upgrade() -> None:
    execute_sql(SQL)


def downgrade() -> None:
    raise NotImplementedError("read models are rebuilt from events, not downgraded")
