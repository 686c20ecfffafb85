"""Reporting's consumer positions: its name, and forgetting its positions so it re-reads its topics (CLI)."""

from __future__ import annotations

import psycopg

from services.runtime.consumer import OFFSETS_DDL
from services.runtime.db import Database

CONSUMER = "reporting"


class ConsumerRunning(RuntimeError):
    """The reporting consumer holds its leadership lock: its positions cannot be reset under it."""


def reset_positions(db: Database) -> dict[str, int]:
    """Forgets reporting's consumer positions and broker offset hints, so the consumer re-reads its topics from the
    beginning: a database that ran before the inbox existed fills its inbox (the relays refill the topics).

    Refuses while a reporting consumer runs (it holds ``baoxue-consumer:reporting``); the lock is held until the
    rows are gone, so none starts in between. Re-reading is otherwise harmless: the inbox keeps each topic
    position once and applies it once. Returns the rows removed per table."""
    name = f"baoxue-consumer:{CONSUMER}"
    db.ensure_tables(OFFSETS_DDL)
    with psycopg.connect(db.url, autocommit=True) as lock:
        taken = lock.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (name,)).fetchone()
        if not (taken and taken[0]):
            raise ConsumerRunning("报表消费者正在运行（持有领导锁），请先停止 baoxue run reporting consumer")
        try:
            with db.transaction() as conn:
                positions = conn.execute("DELETE FROM consumer_positions WHERE consumer = %s", (CONSUMER,)).rowcount
                offsets = conn.execute("DELETE FROM consumer_offsets WHERE consumer = %s", (CONSUMER,)).rowcount
        finally:
            lock.execute("SELECT pg_advisory_unlock(hashtext(%s))", (name,))
    return {"consumer_positions": positions, "consumer_offsets": offsets}
