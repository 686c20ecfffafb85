"""Evidence photos in the service's PostgreSQL schema, addressed by case and SHA-256 (a re-upload stores nothing).

Kept in the database rather than a local directory so every API replica serves what any one received; the
events of the case carry only the digest, size and type, never these bytes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.casework.domain.photos import Photo
from services.runtime.db import Database

DDL = """
CREATE TABLE IF NOT EXISTS evidence_photos (
    case_id text NOT NULL, sha256 text NOT NULL, media_type text NOT NULL, size_bytes int NOT NULL,
    data bytea NOT NULL, uploaded_by text NOT NULL, uploaded_at timestamptz NOT NULL,
    PRIMARY KEY (case_id, sha256)
);
"""


class PostgresPhotos:
    """Stores and returns a case's photos; the first upload of a digest wins, later ones are no-ops."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_tables(DDL)

    def put(self, case_id: str, photo: Photo, uploaded_by: str, at: datetime) -> bool:
        """True when the photo is new for this case."""
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO evidence_photos (case_id, sha256, media_type, size_bytes, data, uploaded_by, uploaded_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (case_id, photo.sha256, photo.media_type, photo.size_bytes, photo.data, uploaded_by, at))
            return cur.rowcount == 1

    def get(self, case_id: str, sha256: str) -> dict[str, Any] | None:
        with self.db.transaction() as conn:
            row = conn.execute("SELECT media_type, size_bytes, data FROM evidence_photos "
                               "WHERE case_id = %s AND sha256 = %s", (case_id, sha256)).fetchone()
        return None if row is None else {**row, "data": bytes(row["data"])}
