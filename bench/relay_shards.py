"""Relay shards: one store's backlog published by 1, 2, … relay replicas at once (each a process of its own,
leasing its share of the partitions), events/s and events per CPU-second of all the replicas together.

`python -m bench.relay_shards --replicas 1,2 --events 100000` (BAOXUE_BENCH_DATABASE_URL / _KAFKA_BOOTSTRAP as
bench/runtime.py; else an embedded PostgreSQL and a local broker). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from bench.runtime import BenchApp, Tally, _to_contract, bench_infra
from services.runtime.db import Database
from services.runtime.eventstore import build_application
from services.runtime.relay import RELAY_DDL
from services.runtime.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS = 24


def child(url: str, bootstrap: str, schema: str, topic: str) -> None:
    """One relay replica of the bench store, until SIGTERM (as `baoxue run <service> relay` runs it)."""
    from services.runtime.logging import configure_logging
    from services.runtime.metrics import Metrics
    from services.runtime.process import StopFlag, settle_heap
    from services.runtime.relay import Relay

    settings = ServiceSettings(database_url=url, kafka_bootstrap=bootstrap, env="test", kafka_partitions=PARTITIONS)
    app = build_application(BenchApp, settings, schema)
    relay = Relay(service=schema, app=app, db=Database(url, schema), topic=topic, to_contract=_to_contract,
                  bootstrap=bootstrap, partitions=PARTITIONS, metrics=Metrics("bench"),
                  logger=configure_logging("bench", "relay", "WARNING"), batch_size=settings.relay_batch_size)
    settle_heap()
    relay.run(StopFlag().install())


def fill(url: str, schema: str, events: int) -> int:
    settings = ServiceSettings(database_url=url, env="test")
    app = build_application(BenchApp, settings, schema)
    meta = {"actor_id": "bench", "actor_role": "system", "jurisdiction": "520102"}
    tallies = [Tally(township_code="520102001", meta=meta) for _ in range(2000)]
    app.save(*tallies)
    for start in range(0, events, 500):
        batch = tallies[(start // 500 % 4) * 500:][:500]
        for t in batch:
            t.tick(day="2026-11-16", meta=meta)
        app.save(*batch)
    total = app.recorder.max_notification_id()
    app.close()
    return total


def cpu(procs: list[subprocess.Popen]) -> float:
    import psutil

    out = 0.0
    for p in procs:
        try:
            times = psutil.Process(p.pid).cpu_times()
            out += times.user + times.system
        except psutil.Error:
            pass
    return out


def run(url: str, bootstrap: str, replicas: int, events: int) -> dict[str, Any]:
    schema, topic = f"shards_{uuid.uuid4().hex[:6]}", f"bench.shards.{uuid.uuid4().hex[:6]}"
    total = fill(url, schema, events)
    published = total - 2000  # the ticks (the tallies' first events map to no contract)
    db = Database(url, schema, size=1)
    consumer = f"relay:{schema}"
    db.execute_script(RELAY_DDL)
    with db.transaction() as conn:  # a ghost holds every partition until all the replicas are up: they start even
        conn.execute("INSERT INTO consumer_members VALUES (%s, 'ghost', now() + interval '1 hour')", (consumer,))
        conn.execute("INSERT INTO consumer_leases SELECT %s, %s, p, 'ghost', 1, now() + interval '1 hour' "
                     "FROM generate_series(0, %s::int - 1) p", (consumer, topic, PARTITIONS))
    ghost = psycopg.connect(url, autocommit=True)  # its member lock held: the replicas see it alive
    ghost.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"baoxue-relay-member:{schema}:{consumer}:ghost",))
    procs = [subprocess.Popen([sys.executable, "-m", "bench.relay_shards", "--child", url, bootstrap, schema, topic],
                              cwd=ROOT, stdin=subprocess.DEVNULL) for _ in range(replicas)]
    try:
        while True:
            with db.transaction() as conn:
                if conn.execute("SELECT count(*) AS n FROM consumer_members WHERE consumer = %s AND member <> 'ghost'",
                                (consumer,)).fetchone()["n"] >= replicas:
                    conn.execute("DELETE FROM consumer_members WHERE member = 'ghost'")
                    conn.execute("UPDATE consumer_leases SET holder = NULL, expires_at = NULL WHERE holder = 'ghost'")
                    break
            time.sleep(0.1)
        ghost.close()
        first_at = first_cpu = None
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            with db.transaction() as conn:
                row = conn.execute("SELECT count(*) AS n, coalesce(min(position), 0) AS low, "
                                   "coalesce(max(position), 0) AS high FROM relay_partitions WHERE topic = %s",
                                   (topic,)).fetchone() if _exists(conn) else {"n": 0, "low": 0, "high": 0}
            if first_at is None and row["high"] > 0:
                first_at, first_cpu = time.monotonic(), cpu(procs)
                start_low = row["low"]
            if row["n"] == PARTITIONS and row["low"] >= total:
                break
            time.sleep(0.05)
        ended, spent = time.monotonic(), cpu(procs) - (first_cpu or 0)
        with db.transaction() as conn:
            holders = conn.execute("SELECT count(DISTINCT holder) AS n FROM consumer_leases WHERE consumer = %s "
                                   "AND holder IS NOT NULL", (f"relay:{schema}",)).fetchone()["n"]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        db.close()
        ghost.close()
    wall = ended - (first_at or ended)
    share = published * (total - start_low) / total if first_at else 0  # what was left once the first batch was in
    return {"replicas": replicas, "holders": holders, "events": published, "wall_s": wall, "cpu_s": spent,
            "rate": share / wall if wall else 0.0, "per_cpu": share / spent if spent else 0.0}


def _exists(conn: Any) -> bool:
    return bool(conn.execute("SELECT to_regclass('relay_partitions') IS NOT NULL AS e").fetchone()["e"])


def shard_rows(url: str, bootstrap: str, replicas: tuple[int, ...] = (1, 2), events: int = 100_000) -> list[tuple[str, str]]:
    """The table's rows: one run per replica count on the database at ``url`` (a schema each) and the broker."""
    rows: list[tuple[str, str]] = []
    base = None
    for n in replicas:
        got = run(url, bootstrap, n, events)
        base = base or got["rate"]
        rows.append((f"relay ×{n} ({got['holders']} holding partitions), {got['events']:,} events, "
                     f"{PARTITIONS} partitions",
                     f"{got['rate']:,.0f} events/s ({got['per_cpu']:,.0f} per CPU-second of the relays; "
                     f"{got['wall_s']:.1f} s, {got['cpu_s']:.1f} CPU-s)"
                     + (f", ×{got['rate'] / base:.2f}" if base and n != replicas[0] else "")))
    return rows


def main(replicas: str = "1,2", events: int = 100_000) -> list[tuple[str, str]]:
    with bench_infra() as (url, bootstrap):
        rows = shard_rows(url, bootstrap, tuple(int(x) for x in replicas.split(",") if x.strip()), events)
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}", flush=True)
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:6])
    else:
        parser = argparse.ArgumentParser(description=__doc__)
        parser.add_argument("--replicas", default="1,2")
        parser.add_argument("--events", type=int, default=100_000)
        args = parser.parse_args()
        main(args.replicas, args.events)
