"""Replicas of one consumer sharing its partitions: messages/s with 1, 2, 3 replicas (real processes) and how long
a SIGKILLed replica's partitions take to move to the others. Printed, never asserted.

``python -m bench.consumers --replicas 1,2,3 --messages 20000`` (infrastructure as ``bench.runtime.bench_infra``).
Each replica is ``services.runtime.tests.replicas`` (a ProjectionSink writing one row per message); the rate is
taken between the first and the last effect's commit time, so process start-up is not in it."""

from __future__ import annotations

import argparse
import os
import signal
import time
import uuid
from typing import Any

from confluent_kafka.admin import AdminClient

from bench.runtime import bench_infra, print_table
from services.runtime.consumer import LEASES_DDL
from services.runtime.db import Database
from services.runtime.kafka import ensure_topics
from services.runtime.tests.replicas import EFFECTS_DDL, Stream, spawn

PARTITIONS = 24


def _wait(condition: Any, timeout: float) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise TimeoutError("benchmark step did not finish")
        time.sleep(0.05)
    return time.monotonic() - start


def _stop(processes: list[Any]) -> None:
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in processes:
        try:
            p.wait(30)
        except Exception:  # noqa: BLE001
            p.kill()


def _world(url: str, bootstrap: str) -> tuple[Database, str]:
    suffix = uuid.uuid4().hex[:8]
    db = Database(url, f"bench_replicas_{suffix}")
    db.execute_script(EFFECTS_DDL + LEASES_DDL)
    topic = f"bench.replicas.{suffix}"
    ensure_topics(AdminClient({"bootstrap.servers": bootstrap}), [topic], PARTITIONS)
    return db, topic


def _count(db: Database) -> int:
    with db.transaction() as conn:
        return conn.execute("SELECT count(*) AS n FROM effects").fetchone()["n"]


def rate(url: str, bootstrap: str, replicas: int, messages: int, work_ms: float) -> float:
    """Messages/s of ``replicas`` processes on a topic filled beforehand."""
    db, topic = _world(url, bootstrap)
    Stream(bootstrap, topic).produce(messages, PARTITIONS)
    processes = [spawn(url, db.schema, bootstrap, topic, PARTITIONS, f"r{i}", 10.0, work_ms) for i in range(replicas)]
    try:
        _wait(lambda: _count(db) >= messages, timeout=900)
    finally:
        _stop(processes)
    with db.transaction() as conn:
        row = conn.execute("SELECT extract(epoch FROM max(applied_at) - min(applied_at)) AS s FROM effects").fetchone()
    db.close()
    return messages / max(float(row["s"]), 1e-6)


def takeover(url: str, bootstrap: str, lease_s: float) -> float:
    """Seconds from a SIGKILL of one of three replicas until the two others hold all partitions."""
    db, topic = _world(url, bootstrap)
    processes = [spawn(url, db.schema, bootstrap, topic, PARTITIONS, f"k{i}", lease_s) for i in range(3)]

    def held() -> dict[str, int]:
        with db.transaction() as conn:
            rows = conn.execute("SELECT holder, count(*) AS n FROM consumer_leases WHERE holder IS NOT NULL AND "
                                "expires_at > now() GROUP BY holder").fetchall()
        return {r["holder"]: r["n"] for r in rows}

    try:
        _wait(lambda: sorted(held().values()) == [8, 8, 8], timeout=120)
        processes[0].send_signal(signal.SIGKILL)
        return _wait(lambda: set(held()) == {"k1", "k2"} and sum(held().values()) == PARTITIONS,
                     timeout=10 * lease_s)
    finally:
        _stop(processes)
        db.close()


def bench_consumer_replicas(replicas: list[int], messages: int = 20_000, work_ms: float = 0.0,
                            leases: list[float] = (10.0, 2.0)) -> list[tuple[str, str]]:  # type: ignore[assignment]
    rows: list[tuple[str, str]] = []
    with bench_infra() as (url, bootstrap):
        base = None
        for n in replicas:
            r = rate(url, bootstrap, n, messages, work_ms)
            base = base or r
            rows.append((f"{n} replica(s), {PARTITIONS} partitions, {messages:,} messages"
                         + (f", {work_ms} ms of waiting each" if work_ms else ""),
                         f"{r:,.0f} msg/s (x{r / base:.2f})"))
        for lease_s in leases:
            rows.append((f"takeover after SIGKILL (lease {lease_s:g} s, heartbeat {lease_s / 4:g} s)",
                         f"{takeover(url, bootstrap, lease_s):.1f} s"))
    rows.append(("machine", f"{os.cpu_count()} cores"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicas", default="1,2,3")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--work-ms", type=float, default=0.0, help="time each message waits (I/O) in its policy")
    a = parser.parse_args()
    print_table("consumer replicas (one consumer, partitions shared by leases)",
                bench_consumer_replicas([int(x) for x in a.replicas.split(",")], a.messages, a.work_ms))


if __name__ == "__main__":
    main()
