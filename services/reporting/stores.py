"""Where reducers write: rows in PostgreSQL (live) or in memory (rebuild, time travel), with one interface so
both paths run the same reducer code and end with the same rows."""

from __future__ import annotations

from typing import Any, Iterable, Protocol

import psycopg

from services.reporting.projections import BY_NAME, READ_MODELS, Table

Row = dict[str, Any]


class Store(Protocol):
    """Rows by table and key; ``put`` writes a whole row."""

    def get(self, table: str, key: tuple[Any, ...]) -> Row | None: ...

    def put(self, table: str, row: Row) -> None: ...


def complete(table: Table, row: Row) -> Row:
    """A row with every column present (missing ones are NULL)."""
    return {c: row.get(c) for c in table.names}


class SqlStore:
    """Reads and upserts single rows through the consumer's connection (inside its transaction)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def get(self, table: str, key: tuple[Any, ...]) -> Row | None:
        t = BY_NAME[table]
        where = " AND ".join(f"{k} = %s" for k in t.key)
        row = self.conn.execute(f"SELECT * FROM {table} WHERE {where}", key).fetchone()
        return dict(row) if row else None

    def put(self, table: str, row: Row) -> None:
        t = BY_NAME[table]
        cols = t.names
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c not in t.key)
        self.conn.execute(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
            f"ON CONFLICT ({', '.join(t.key)}) DO UPDATE SET {updates}",
            [row.get(c) for c in cols],
        )


class MemoryStore:
    """Rows in dictionaries; ``copy_into`` loads them with COPY (rebuilds run at COPY speed)."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[tuple[Any, ...], Row]] = {t.name: {} for t in READ_MODELS}

    def get(self, table: str, key: tuple[Any, ...]) -> Row | None:
        return self.tables[table].get(key)

    def put(self, table: str, row: Row) -> None:
        t = BY_NAME[table]
        self.tables[table][tuple(row[k] for k in t.key)] = row

    def rows(self, table: str) -> Iterable[Row]:
        return self.tables[table].values()

    def count(self) -> int:
        return sum(len(rows) for rows in self.tables.values())

    def copy_into(self, conn: psycopg.Connection, only: tuple[str, ...] | None = None) -> int:
        """Writes every row into the (empty) tables of the connection's search path; returns rows written."""
        written = 0
        for t in READ_MODELS:
            if only is not None and t.name not in only:
                continue
            rows = self.tables[t.name]
            if not rows:
                continue
            cols = t.names
            with conn.cursor().copy(f"COPY {t.name} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows.values():
                    copy.write_row([row.get(c) for c in cols])
            written += len(rows)
        return written
