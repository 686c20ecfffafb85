"""The rebuild benchmark and the live consumer's rate: synthetic events COPYed into an inbox (as the reporting
consumer would have stored them), then one full rebuild; or applied through the consumer's sink in polls."""

from __future__ import annotations

import itertools
import os
import platform
import time
from typing import Iterable

from psycopg.types.json import Jsonb

from bench.reporting import synthetic
from services.reporting.adapters import inbox, projections, schema
from services.reporting.adapters.rebuild import rebuild
from services.runtime.db import Database
from services.runtime.kafka import partition_for
from services.runtime.scratchdb import fresh_database


def copy_into_inbox(db: Database, generated: Iterable[synthetic.Generated], limit: int | None = None) -> int:
    """COPYs generated events into the inbox (sequences per topic from 1, six partitions); returns how many."""
    sequences: dict[str, itertools.count] = {}
    loaded = 0
    with db.transaction() as conn, conn.cursor().copy(
        "COPY inbox (topic, sequence, partition, event_id, type, subject, time, effective_time, envelope, payload) "
        "FROM STDIN"
    ) as copy:
        for g in generated if limit is None else itertools.islice(generated, limit):
            topic = g.payload.topic
            seq = next(sequences.setdefault(topic, itertools.count(1)))
            envelope = {"id": f"{g.subject}-{seq}", "type": g.payload.ce_type(), "subject": g.subject,
                        "time": g.time.isoformat(), "sequence": seq, "actorrole": "system"}
            copy.write_row((topic, seq, partition_for(g.subject, 6), envelope["id"], envelope["type"], g.subject,
                            g.time, inbox.effective_time(g.time, g.payload), Jsonb(envelope),
                            Jsonb(g.payload.model_dump(mode="json"))))
            loaded += 1
    return loaded


def load(db: Database, events: int) -> int:
    """Fills the scratch inbox with ``events`` synthetic events (small provinces, one seed after another)."""
    provinces = (synthetic.history(seed=seed, prefectures=2, counties=3, townships=4, schools=3, students=40)
                 for seed in itertools.count(1))
    return copy_into_inbox(db, itertools.chain.from_iterable(provinces), limit=events)


def run_bench(database_url: str, events: int) -> str:
    """Loads ``events`` synthetic events into the inbox of a throwaway database and times one full rebuild."""
    with fresh_database(database_url, "bench_reporting_rebuild") as url:
        db = Database(url, "reporting")
        try:
            db.execute_script(inbox.DDL + projections.ddl())
            loaded = load(db, events)
            result = rebuild(db, show_progress=True)
        finally:
            db.close()
    return (f"reporting rebuild on {platform.node()} ({os.cpu_count()} cores): {loaded:,} events → {result.rows:,} rows "
            f"in {result.seconds:.2f} s = {result.events_per_second:,.0f} events/s")


def consumer_rate(db: Database, shape: dict[str, int], limit: int = 60_000, poll: int = 500) -> tuple[int, float]:
    """The live consumer's rate: a synthetic history (registry, attendance and casework events) applied through the
    consumer's sink (``batch_scope`` and ``prepare_batch``) in polls of ``poll`` messages, partitions interleaved
    as the broker hands them out. Returns (events, events per second)."""
    from services.reporting.entrypoints.consumers import CONSUMER, DEFAULT_PARTITIONS, POLICIES, batch_scope, prepare_batch
    from services.runtime.consumer import ProjectionSink
    from services.runtime.testing import message

    schema.install(db)
    sink = ProjectionSink(db, CONSUMER, scope=batch_scope, prepare=prepare_batch(DEFAULT_PARTITIONS))
    sequences: dict[str, itertools.count] = {}
    items = []
    for g in itertools.islice(synthetic.history(seed=11, **shape), limit):
        topic = g.payload.topic
        seq = next(sequences.setdefault(topic, itertools.count(1)))
        track = f"{CONSUMER}:{topic}:{partition_for(g.subject, DEFAULT_PARTITIONS)}"
        items.append((track, seq, POLICIES[type(g.payload)], message(g.payload, sequence=seq, subject=g.subject,
                                                                     time=g.time)))
    started = time.perf_counter()
    for i in range(0, len(items), poll):
        sink.apply_batch(items[i:i + poll])
    return len(items), len(items) / (time.perf_counter() - started)
