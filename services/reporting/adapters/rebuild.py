"""Folding the inbox: the rebuild (drop every read model, replay, COPY) and time travel (the same fold into
temporary tables that shadow the read models inside one transaction, so every query runs unchanged)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

import psycopg
from tqdm import tqdm

from services.reporting.adapters import counters, inbox, projections, schema
from services.reporting.adapters.projectors import project
from services.reporting.adapters.stores import MemoryStore
from services.runtime.db import Database


@dataclass(frozen=True)
class RebuildResult:
    events: int
    rows: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def fold(conn: psycopg.Connection, *, before: datetime | None = None, effective_before: datetime | None = None,
         subject: str | None = None, progress: tqdm | None = None) -> tuple[MemoryStore, int]:
    """The read models as the inbox (up to a cut) makes them, in memory."""
    store, n = MemoryStore(), 0
    for event in inbox.replay(conn, before=before, effective_before=effective_before, subject=subject):
        project(store, event)
        n += 1
        if progress is not None and n % 2000 == 0:
            progress.update(2000)
    if progress is not None:
        progress.update(n % 2000)
    return store, n


def rebuild(db: Database, *, show_progress: bool = True) -> RebuildResult:
    """Drops every read model and rebuilds it from the inbox, in one transaction (readers see old or new)."""
    started = time.perf_counter()
    with db.transaction() as conn:
        conn.execute("LOCK TABLE inbox IN SHARE MODE")  # the live consumer waits; nothing slips between
        total = inbox.count(conn)
        with tqdm(total=total, unit="ev", desc="重建报表投影 rebuild", disable=not show_progress) as bar:
            store, n = fold(conn, progress=bar)
        counters.compute_all(store)
        schema.drop_and_create(conn)
        rows = store.copy_into(conn)
    return RebuildResult(n, rows, time.perf_counter() - started)


@contextmanager
def as_of(conn: psycopg.Connection, *, before: datetime | None = None,
          effective_before: datetime | None = None) -> Iterator[int]:
    """Inside the caller's transaction: temporary read models as of a cut; yields the events replayed."""
    schema = conn.execute("SELECT current_schema() AS s").fetchone()["s"]  # type: ignore[index]
    for table in projections.READ_MODELS:
        conn.execute(f"CREATE TEMP TABLE {table.name} (LIKE {schema}.{table.name} INCLUDING ALL) ON COMMIT DROP")
    store, n = fold(conn, before=before, effective_before=effective_before)
    store.copy_into(conn)
    yield n
