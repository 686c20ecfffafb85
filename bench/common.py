"""What the benchmark sections share: the run size, table rows, free ports, tokens, percentiles."""

from __future__ import annotations

import contextlib
import os
import random
import statistics
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterator

from services.runtime.auth import Actor, TokenCodec
from services.runtime.settings import DEV_JWT_SECRET, SERVICE_PORTS, WORKER_METRICS_PORTS

Row = tuple[str, str]
NA = "n/a (not available)"


@dataclass(frozen=True)
class Size:
    """How big one run is: ``quick`` (default, a few minutes) or ``full`` (1,000,000 students)."""

    name: str
    students: int  # attendance ingest and the reporting province
    cases: int  # day close → CaseOpened samples
    events: int  # runtime event store benchmark
    children: int  # registry import

    @classmethod
    def of(cls, full: bool, students: int | None = None, cases: int | None = None) -> "Size":
        base = cls("full", 1_000_000, 100, 100_000, 1_000_000) if full else cls("quick", 100_000, 60, 20_000, 20_000)
        return cls(base.name, students or base.students, max(50, cases or base.cases), base.events, base.children)


def free_offset(low: int = 1000, high: int = 30000) -> int:
    """A port offset at which every API and worker metrics port is free on this host (other stacks may run)."""
    import socket

    ports = list(SERVICE_PORTS.values()) + list(WORKER_METRICS_PORTS.values())
    for _ in range(200):
        offset = random.randrange(low, high, 100)
        try:
            for port in ports:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port + offset))
            return offset
        except OSError:
            continue
    raise RuntimeError("no free port offset")


def note(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def bench_headers(role: str, jurisdiction: str, **extra: Any) -> dict[str, str]:
    actor = Actor(user_id=f"bench-{role}", role=role, jurisdiction=jurisdiction, **extra)
    return {"Authorization": "Bearer " + TokenCodec(DEV_JWT_SECRET).mint(actor, ttl=timedelta(hours=6))}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


def ms_summary(values: list[float]) -> str:
    return f"p50 {statistics.median(values) * 1000:,.0f} ms · p99 {percentile(values, 0.99) * 1000:,.0f} ms"



@contextlib.contextmanager
def scoped_env(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
