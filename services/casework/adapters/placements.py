"""The registry's placements as casework's lookup table (``student_placements``): written by the consumer's batch in
the transaction of its position, read by whoever fills a case's owners or checks where a child is registered."""

from __future__ import annotations

from operator import attrgetter
from typing import Any, Iterable
from uuid import UUID

from psycopg import sql

from services.casework.domain import Placement, StudentPlacement, placement_id_for
from services.runtime.aggregates import load
from services.runtime.batchrows import BatchRows, RowRef, json_rows, rows_json

TABLE = "student_placements"
DDL = """
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
"""
COLUMNS = ("student_id", "school_id", "township_code", "grade", "class_name", "head_teacher_id", "head_teacher_name",
           "registry_version", "active", "event_id", "event_time")
TYPES = ("text", "text", "text", "int", "text", "text", "text", "bigint", "boolean", "text", "timestamptz")
_values = attrgetter(*COLUMNS)  # a row's values in COLUMNS order, as one tuple


def placement_row(student_id: str) -> RowRef:
    """A student's placement row, as a policy declares it (``loads``)."""
    return RowRef(TABLE, student_id)


class PlacementRows(BatchRows[Placement]):
    """``student_placements`` by student id; a student without a row yet is read from the aggregate that held the
    placement before the table (``StudentPlacement``), which nothing writes any more."""

    table = TABLE
    DDL = DDL

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self._select: sql.Composed | None = None
        self._upsert: sql.Composed | None = None

    def select(self, conn: Any, keys: list[str]) -> dict[str, tuple[Placement, int]]:
        if self._select is None:
            self._select = sql.SQL("SELECT {}, version FROM {} WHERE student_id = ANY(%b::text[])").format(
                sql.SQL(", ").join(map(sql.Identifier, COLUMNS)), self.qualified())
        with conn.cursor() as curs:
            curs.execute(self._select, (keys,), prepare=True)
            return {row["student_id"]: (Placement(**{c: row[c] for c in COLUMNS}), row["version"])
                    for row in curs.fetchall()}

    def upsert(self, curs: Any, rows: list[Placement], versions: list[int]) -> int:
        """One statement for the batch's changed rows, sent as one JSON array (``batchrows.json_rows``: a fraction
        of the client CPU of binary arrays)."""
        if self._upsert is None:
            self._upsert = sql.SQL(
                "WITH w AS (INSERT INTO {} AS p ({}, version) SELECT {}, u.version FROM {} "
                "ON CONFLICT (student_id) DO UPDATE SET {}, version = EXCLUDED.version "
                "WHERE p.version = EXCLUDED.version - 1 RETURNING 1) SELECT count(*) AS n FROM w"
            ).format(self.qualified(), sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
                     sql.SQL(", ").join(sql.SQL("u.{}").format(sql.Identifier(c)) for c in COLUMNS),
                     json_rows((*COLUMNS, "version"), (*TYPES, "bigint")),
                     sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in COLUMNS[1:]))
        curs.execute(self._upsert, (rows_json((*COLUMNS, "version"),
                                              ((*_values(r), v) for r, v in zip(rows, versions))),), prepare=True)
        return curs.fetchone()["n"]  # type: ignore[no-any-return,index]

    def legacy_ids(self, keys: Iterable[str]) -> list[UUID]:
        return [placement_id_for(k) for k in keys]

    def legacy(self, key: str) -> Placement | None:
        aggregate = load(self.app.repository, StudentPlacement, placement_id_for(key))
        return Placement.of(aggregate) if aggregate is not None else None
