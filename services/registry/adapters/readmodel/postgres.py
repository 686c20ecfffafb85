"""The registry read model in the service's PostgreSQL schema, its position committed beside its rows."""

from __future__ import annotations

import json
from typing import Any, Iterable

from services.registry.adapters.readmodel.rows import COLUMNS, DDL, NAME, TYPES, apply, decoded, table_for
from services.registry.domain.comparisons import OpenFinding
from services.registry.domain.erasure import Erasure
from services.runtime.db import Database


class PostgresIndex:
    """The registry read model in the service's schema, with its position committed beside its rows."""

    def __init__(self, db: Database, batch_size: int = 2000) -> None:
        self.db = db
        self.batch_size = batch_size
        self._ready = False

    def ensure(self) -> None:
        if not self._ready:
            self.db.ensure_tables(DDL)
            self._ready = True

    def catch_up(self, app: Any) -> int:
        """Applies every new event in batches (load touched rows, apply, write back); returns the position."""
        self.ensure()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT position FROM projection_position WHERE name = %s", (NAME,)).fetchone()
        position = row["position"] if row else 0
        if (app.recorder.max_notification_id() or 0) <= position:
            return position
        while True:
            with self.db.transaction() as conn:
                conn.execute("INSERT INTO projection_position VALUES (%s, 0) ON CONFLICT DO NOTHING", (NAME,))
                position = conn.execute(
                    "SELECT position FROM projection_position WHERE name = %s FOR UPDATE", (NAME,)
                ).fetchone()["position"]
                batch = app.recorder.select_notifications(start=position + 1, limit=self.batch_size)
                if not batch:
                    return position
                self._apply_batch(conn, decoded(app, batch))
                position = batch[-1].id
                conn.execute("UPDATE projection_position SET position = %s WHERE name = %s", (position, NAME))
            if len(batch) < self.batch_size:
                return position

    def _apply_batch(self, conn: Any, events: list[Any]) -> None:
        erasures = [e for e in events if isinstance(e, Erasure.Event)]
        self._apply_rows(conn, [e for e in events if not isinstance(e, Erasure.Event)])
        for e in erasures:  # after the batch's other rows are written (a rebuild replays them redacted)
            conn.execute("UPDATE student_index SET name_masked = '*', name_blind = NULL WHERE id = %s", (e.student_id,))
            conn.execute("UPDATE child_index SET name_masked = '*', name_blind = NULL, id_number_masked = NULL, "
                         "birth_date = NULL, records = '{}'::jsonb, flags = '{}', status = 'erased' "
                         "WHERE student_id = %s", (e.student_id,))

    def _apply_rows(self, conn: Any, events: list[Any]) -> None:
        keys: dict[str, set[str]] = {}
        for e in events:
            keys.setdefault(table_for(e), set()).add(str(e.originator_id))  # type: ignore[arg-type]
        current = {t: self._load(conn, t, list(ks)) for t, ks in keys.items()}
        dirty: dict[str, set[str]] = {t: set() for t in keys}
        for e in events:
            table = table_for(e)
            key = str(e.originator_id)
            new = apply(current[table].get(key), e)  # type: ignore[index]
            if new is not None:
                current[table][key] = new  # type: ignore[index]
                dirty[table].add(key)  # type: ignore[index]
        for table, ks in dirty.items():
            if ks:
                self._write(conn, table, [(k, current[table][k]) for k in ks])

    @staticmethod
    def _load(conn: Any, table: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        rows = conn.execute(f"SELECT * FROM {table} WHERE id = ANY(%s)", (keys,)).fetchall()
        return {r.pop("id"): r for r in rows}

    @staticmethod
    def _write(conn: Any, table: str, rows: list[tuple[str, dict[str, Any]]]) -> None:
        cols = COLUMNS[table]
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS tmp_{table} (LIKE {table}) ON COMMIT DROP")
        with conn.cursor().copy(f"COPY tmp_{table} (id, {', '.join(cols)}, version) FROM STDIN") as copy:
            for key, row in rows:
                copy.write_row([key, *(_pg(c, row.get(c)) for c in cols), row["version"]])
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in (*cols, "version"))
        conn.execute(f"INSERT INTO {table} SELECT * FROM tmp_{table} ON CONFLICT (id) DO UPDATE SET {sets}")
        conn.execute(f"TRUNCATE tmp_{table}")

    # -- queries ---------------------------------------------------------------------------------
    def get(self, table: str, key: str) -> dict[str, Any] | None:
        return self.get_many(table, [key]).get(key)

    def get_many(self, table: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        self.ensure()
        with self.db.transaction() as conn:
            return self._load(conn, table, keys)

    def rows(self, table: str, prefix: str = "", field: str = "township_code",
             **equals: Any) -> list[tuple[str, dict[str, Any]]]:
        """Rows whose `field` starts with `prefix` (and whose columns equal `equals`)."""
        self.ensure()
        clause = "".join(f" AND {f} = %s" for f in equals)
        with self.db.transaction() as conn:
            rows = conn.execute(f"SELECT * FROM {table} WHERE {field} LIKE %s{clause}",
                                (prefix + "%", *equals.values())).fetchall()
        return [(r.pop("id"), r) for r in rows]

    def where(self, table: str, **equals: Any) -> list[tuple[str, dict[str, Any]]]:
        self.ensure()
        clause = " AND ".join(f"{f} = %s" for f in equals) or "true"
        with self.db.transaction() as conn:
            rows = conn.execute(f"SELECT * FROM {table} WHERE {clause}", tuple(equals.values())).fetchall()
        return [(r.pop("id"), r) for r in rows]

    def census_candidates(self, prefix: str) -> list[tuple[str, dict[str, Any]]]:
        """Children under `prefix` the census comparison can judge other than "registered, nothing to do": those
        without a registration that is not closed, and those with an open out-of-school finding (read in one query,
        not every child of the province each day)."""
        self.ensure()
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT c.* FROM child_index c WHERE c.township_code LIKE %s AND ("
                " NOT EXISTS (SELECT 1 FROM student_index s WHERE s.id = c.student_id AND s.status <> 'closed')"
                " OR EXISTS (SELECT 1 FROM finding_index f WHERE f.student_id = c.student_id"
                " AND f.kind = 'out_of_school' AND f.open))", (prefix + "%",)).fetchall()
        return [(r.pop("id"), r) for r in rows]

    def open_findings(self, kind: str, student_ids: Iterable[str] | None = None,
                      prefix: str | None = None) -> dict[str, OpenFinding]:
        self.ensure()
        query = "SELECT id, student_id, episode FROM finding_index WHERE kind = %s AND open"
        params: list[Any] = [kind]
        if student_ids is not None:
            query += " AND student_id = ANY(%s)"
            params.append(list(student_ids))
        if prefix is not None:
            query += " AND township_code LIKE %s"
            params.append(prefix + "%")
        with self.db.transaction() as conn:
            rows = conn.execute(query, params).fetchall()
        return {r["student_id"]: OpenFinding(r["id"], kind, r["student_id"], r["episode"]) for r in rows}

    def drop(self) -> None:
        self.ensure()
        with self.db.transaction() as conn:
            conn.execute("TRUNCATE " + ", ".join(COLUMNS))
            conn.execute("DELETE FROM projection_position WHERE name = %s", (NAME,))


def _pg(column: str, value: Any) -> Any:
    if TYPES.get(column) == "jsonb" and value is not None:
        return json.dumps(value, ensure_ascii=False, default=str)
    return value
