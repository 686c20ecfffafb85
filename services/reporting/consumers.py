"""Reporting policies: every event of the topics it reads goes into the inbox and, once, into the read models
(ProjectionSink: (message, conn), in the consumer's transaction with its position)."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterator

import psycopg

from contracts import registry, topics
from services.reporting import inbox
from services.reporting.counters import CountingStore
from services.reporting.projectors import project
from services.reporting.stores import SqlStore
from services.runtime.consumer import OFFSETS_DDL, Message
from services.runtime.db import Database

CONSUMER = "reporting"
TOPICS = [topics.REGISTRY, topics.ATTENDANCE, topics.CASEWORK]
DEFAULT_PARTITIONS = 6


_batch_store: ContextVar[CountingStore | None] = ContextVar("reporting_batch_store", default=None)


@contextmanager
def batch_scope(conn: psycopg.Connection) -> Iterator[None]:
    """One counting store for a whole consumer transaction: rows read once, counter differences summed and written
    once at the end (a batch of 500 enrolments at one school is one counter update, not 500)."""
    store = CountingStore(SqlStore(conn))
    token = _batch_store.set(store)
    try:
        yield
        store.flush()
    finally:
        _batch_store.reset(token)


def when_any_event_keep_and_project(partitions: int) -> Callable[[Message, psycopg.Connection], None]:
    """Keeps the event in the inbox (the history rebuilds replay) and applies it unless the inbox had it."""

    def policy(message: Message, conn: psycopg.Connection) -> None:
        event = inbox.event_of(message, partitions)
        if inbox.record(conn, message, event):
            shared = _batch_store.get()
            store = shared if shared is not None and shared.conn is conn else CountingStore(SqlStore(conn))
            project(store, event)
            if store is not shared:
                store.flush()

    return policy


def policies(partitions: int = DEFAULT_PARTITIONS) -> dict[type, Any]:
    """One policy for every contract published on the topics reporting reads."""
    policy = when_any_event_keep_and_project(partitions)
    return {c: policy for c in registry().values() if c.topic in TOPICS}


POLICIES = policies()


class ConsumerRunning(RuntimeError):
    """The reporting consumer holds its leadership lock: its positions cannot be reset under it."""


def reset_positions(db: Database) -> dict[str, int]:
    """Forgets reporting's consumer positions and broker offset hints, so the consumer re-reads its topics from the
    beginning: a database that ran before the inbox existed fills its inbox (the relays refill the topics).

    Refuses while a reporting consumer runs (it holds ``baoxue-consumer:reporting``); the lock is held until the
    rows are gone, so none starts in between. Re-reading is otherwise harmless: the inbox keeps each topic
    position once and applies it once. Returns the rows removed per table."""
    name = f"baoxue-consumer:{CONSUMER}"
    db.execute_script(OFFSETS_DDL)
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
