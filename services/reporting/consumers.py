"""Reporting policies: every event of the topics it reads goes into the inbox and, once, into the read models
(ProjectionSink: (message, conn), in the consumer's transaction with its position)."""

from __future__ import annotations

from typing import Any, Callable

import psycopg

from contracts import registry, topics
from services.reporting import inbox
from services.reporting.counters import CountingStore
from services.reporting.projectors import project
from services.reporting.stores import SqlStore
from services.runtime.consumer import Message

CONSUMER = "reporting"
TOPICS = [topics.REGISTRY, topics.ATTENDANCE, topics.CASEWORK]
DEFAULT_PARTITIONS = 6


def when_any_event_keep_and_project(partitions: int) -> Callable[[Message, psycopg.Connection], None]:
    """Keeps the event in the inbox (the history rebuilds replay) and applies it unless the inbox had it."""

    def policy(message: Message, conn: psycopg.Connection) -> None:
        event = inbox.event_of(message, partitions)
        if inbox.record(conn, message, event):
            store = CountingStore(SqlStore(conn))
            project(store, event)
            store.flush()

    return policy


def policies(partitions: int = DEFAULT_PARTITIONS) -> dict[type, Any]:
    """One policy for every contract published on the topics reporting reads."""
    policy = when_any_event_keep_and_project(partitions)
    return {c: policy for c in registry().values() if c.topic in TOPICS}


POLICIES = policies()
