"""Installing reporting's tables: the inbox, the read models (with their migrations) and the BI views over them;
and dropping the read models for a rebuild. Apart from ``projections`` so table declarations import nothing."""

from __future__ import annotations

import psycopg

from services.reporting.adapters import bi, counters, inbox
from services.reporting.adapters.projections import MIGRATIONS, TABLES, ddl
from services.runtime.db import Database


def install(db: Database) -> None:
    """Creates the read-model tables, the inbox and the BI views if missing (idempotent, serialised by a lock)."""
    db.ensure_tables(inbox.DDL + ddl() + MIGRATIONS + bi.DDL)
    counters.backfill(db)


def drop_and_create(conn: psycopg.Connection) -> None:
    """Drops every read model (and the BI views over them) and creates them empty, inside the caller's transaction."""
    conn.execute(f"DROP TABLE IF EXISTS {', '.join(TABLES)} CASCADE")  # the BI views over them go too
    conn.execute(ddl())  # type: ignore[arg-type]
    if conn.execute("SELECT current_schema() AS s").fetchone()["s"] == "reporting":  # type: ignore[index]
        conn.execute(bi.DDL)  # type: ignore[arg-type]
        bi.regrant(conn)
