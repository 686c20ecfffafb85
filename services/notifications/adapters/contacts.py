"""Students' contacts as notifications' lookup table (``student_contacts``: head teacher, masked name, notifications
waiting for a head teacher): written by the consumer's batch in the transaction of its position."""

from __future__ import annotations

from operator import attrgetter
from typing import Any, Iterable
from uuid import UUID

from psycopg import sql

from services.notifications.domain import Contact, StudentContact, contact_id_for
from services.runtime.aggregates import load
from services.runtime.batchrows import BatchRows, RowRef, json_rows, rows_json

TABLE = "student_contacts"
DDL = """
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
"""
COLUMNS = ("student_id", "township_code", "name_masked", "head_teacher_id", "head_teacher_name", "erased",
           "event_id", "event_time")
TYPES = ("text", "text", "text", "text", "text", "boolean", "text", "timestamptz")
_values = attrgetter(*COLUMNS)  # a row's values in COLUMNS order, as one tuple


def contact_row(student_id: str) -> RowRef:
    """A student's contact row, as a policy declares it (``loads``)."""
    return RowRef(TABLE, student_id)


class ContactRows(BatchRows[Contact]):
    """``student_contacts`` by student id; a student without a row yet is read from the aggregate that held the
    contact before the table (``StudentContact``), which nothing writes any more."""

    table = TABLE
    DDL = DDL

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self._select: sql.Composed | None = None
        self._upsert: sql.Composed | None = None

    def select(self, conn: Any, keys: list[str]) -> dict[str, tuple[Contact, int]]:
        if self._select is None:
            self._select = sql.SQL("SELECT {}, pending, version FROM {} WHERE student_id = ANY(%b::text[])").format(
                sql.SQL(", ").join(map(sql.Identifier, COLUMNS)), self.qualified())
        with conn.cursor() as curs:
            curs.execute(self._select, (keys,), prepare=True)
            return {row["student_id"]: (Contact(**{c: row[c] for c in COLUMNS}, pending=tuple(row["pending"])),
                                        row["version"]) for row in curs.fetchall()}

    def upsert(self, curs: Any, rows: list[Contact], versions: list[int]) -> int:
        """One statement for the batch's changed rows, sent as one JSON array (``batchrows.json_rows``: a fraction
        of the client CPU of binary arrays); the waiting notifications go as one comma-separated text per row (ids
        are uuids; PostgreSQL has no ragged arrays)."""
        if self._upsert is None:
            self._upsert = sql.SQL(
                "WITH w AS (INSERT INTO {} AS c ({}, pending, version) SELECT {}, string_to_array(u.p, ','), u.v "
                "FROM {} ON CONFLICT (student_id) DO UPDATE SET {}, "
                "version = EXCLUDED.version WHERE c.version = EXCLUDED.version - 1 RETURNING 1) "
                "SELECT count(*) AS n FROM w"
            ).format(self.qualified(), sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
                     sql.SQL(", ").join(sql.SQL("u.{}").format(sql.Identifier(c)) for c in COLUMNS),
                     json_rows((*COLUMNS, "p", "v"), (*TYPES, "text", "bigint")),
                     sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c))
                                        for c in (*COLUMNS[1:], "pending")))
        curs.execute(self._upsert, (rows_json((*COLUMNS, "p", "v"), ((*_values(r), ",".join(r.pending), v)
                                                                    for r, v in zip(rows, versions))),), prepare=True)
        return curs.fetchone()["n"]  # type: ignore[no-any-return,index]

    def legacy_ids(self, keys: Iterable[str]) -> list[UUID]:
        return [contact_id_for(k) for k in keys]

    def legacy(self, key: str) -> Contact | None:
        aggregate = load(self.app.repository, StudentContact, contact_id_for(key))
        return Contact.of(aggregate) if aggregate is not None else None

