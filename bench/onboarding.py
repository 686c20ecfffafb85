"""Province onboarding: a bulk import of N students, then the time until every relay and consumer has caught up.

The registry import writes N enrolments (学籍) into the registry's own event store; then every service's relay and
consumer starts (as `baoxue up` starts them, `replicas` copies of each consumer) on a throwaway database and a
fresh broker, and each process's /metrics is read until nothing is left: relay lag 0, every consumer's partition
lag 0, its message count still. Printed per consumer: messages, events/s while it worked and per CPU-second the
process spent meanwhile (psutil; the figure a loaded machine does not distort), when it finished —
and which finished last, with the whole absorption extrapolated to 7,000,000 students (linear: every figure here
is a rate). Run: `baoxue bench onboarding --students 1000000 [--replicas consumer=3]` (prints, never fails).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from bench.common import Row
from bench.registry.county import generate_county, schools_of
from bench.stack import stop_procs
from devstack.ports import metrics_port
from devstack.stack import service_processes
from services.runtime.scratchdb import fresh_database

PROVINCE = 7_000_000
_SAMPLE = re.compile(r'^(baoxue_[a-z_]+)\{([^}]*)\} ([0-9.e+-]+)$')


@dataclass
class Progress:
    """What one process's /metrics said over time: messages handled, lag, when it last moved."""

    name: str
    role: str
    messages: float = 0.0
    lag: float | None = None
    first_at: float | None = None
    last_change_at: float | None = None
    samples: list[tuple[float, float]] = field(default_factory=list)
    cpu_before: float | None = None  # the process's CPU seconds (all threads) at the scrape before its first message
    cpu_first: float | None = None
    cpu_last: float | None = None

    def update(self, now: float, messages: float, lag: float | None, cpu: float | None = None) -> None:
        if messages != self.messages:
            if self.first_at is None:
                self.first_at = now
                self.cpu_first = self.cpu_before if self.cpu_before is not None else cpu
            self.last_change_at = now
            self.cpu_last = cpu
        elif self.first_at is None:
            self.cpu_before = cpu
        self.messages, self.lag = messages, lag
        self.samples.append((now, messages))

    def per_cpu_second(self) -> float | None:
        """Messages per CPU-second the process spent while it worked: on a machine other runs load, the figure
        that does not depend on how much of the cores this process was given."""
        if self.cpu_first is None or self.cpu_last is None or self.cpu_last <= self.cpu_first:
            return None
        return self.messages / (self.cpu_last - self.cpu_first)

    def done(self, now: float, quiet_s: float) -> bool:
        return self.lag == 0 and self.first_at is not None and now - (self.last_change_at or now) >= quiet_s

    def rate(self) -> float | None:
        if self.first_at is None or self.last_change_at is None or self.last_change_at <= self.first_at:
            return None
        return self.messages / (self.last_change_at - self.first_at)


def scrape(port: int) -> dict[str, float]:
    """Sums of the relay/consumer series on one /metrics page: handled messages and lag."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2), float(m.group(3))
        if name == "baoxue_consumer_messages_total" or name == "baoxue_relay_published_total":
            out["messages"] = out.get("messages", 0.0) + value
        elif name == "baoxue_consumer_lag_messages" or (name == "baoxue_relay_lag_events" and labels):
            out["lag"] = out.get("lag", 0.0) + value
    return out


def cpu_seconds(proc: subprocess.Popen) -> float | None:
    """User + system CPU seconds of a process so far (psutil), None once it is gone."""
    import psutil

    try:
        times = psutil.Process(proc.pid).cpu_times()
    except psutil.Error:
        return None
    return times.user + times.system


def import_students(students: int) -> tuple[int, float]:
    """N enrolments into the registry's store of the database in the environment (as the registry's import does)."""
    from services.registry.bootstrap import open_registry
    from services.registry.entrypoints.cli import CLI_META

    registry, settings = open_registry()
    county = generate_county(students, out_of_school_ratio=0.0)
    for s in schools_of(county.code):
        registry.registration.register_school(meta=CLI_META, **s)
    started = time.perf_counter()
    report = registry.imports.import_file(kind="students", content=county.students_csv(), filename="onboarding.csv",
                                          source="education", valid_only=False, today=date(2026, 9, 1), meta=CLI_META,
                                          batch_size=settings.import_batch_size)
    return report.created, time.perf_counter() - started


def _snapshot(server_url: str, source_url: str, name: str) -> str:
    """A copy of a database (``CREATE DATABASE … TEMPLATE``, file copy) under ``name``; its URL. Nobody may be
    connected to the source meanwhile: its sessions are ended first."""
    import psycopg
    from psycopg import sql
    from urllib.parse import urlsplit, urlunsplit

    source = urlsplit(source_url).path.lstrip("/")
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                     "AND pid <> pg_backend_pid()", (source,))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
            sql.Identifier(name), sql.Identifier(source)))
    return urlunsplit(urlsplit(source_url)._replace(path=f"/{name}"))


def _drop(server_url: str, url: str) -> None:
    import psycopg
    from psycopg import sql
    from urllib.parse import urlsplit

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(urlsplit(url).path.lstrip("/"))))


def _follow(specs: list[Any], env: dict[str, str], offset: int, workdir: Path, timeout_s: float, quiet_s: float,
            done: Any, later: tuple[str, ...] = ()) -> dict[str, Progress]:
    """Starts these processes, reads their /metrics every second until ``done(progress, now)``; stops them.
    Processes of the roles in ``later`` start only once the others are done (then ``done`` is asked again)."""
    procs: dict[str, subprocess.Popen] = {}
    progress = {s.name: Progress(s.name, s.role) for s in specs}
    ports = {s.name: metrics_port(s.service, s.role, offset, s.copy) for s in specs}
    started = time.monotonic()
    def start(first: bool) -> None:
        for spec in specs:
            if (spec.role in later) != first:
                log = open(workdir / f"{spec.name}.log", "ab")
                procs[spec.name] = subprocess.Popen(spec.argv, env={**env, **spec.env}, stdout=log,
                                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                    start_new_session=True)

    waiting = bool(later)  # the ``later`` processes are still to start
    try:
        start(True)
        while time.monotonic() - started < timeout_s:
            now = time.monotonic() - started
            for name, port in ports.items():
                seen = scrape(port)
                if seen:
                    progress[name].update(now, seen.get("messages", 0.0), seen.get("lag"), cpu_seconds(procs[name]))
            if int(now) // 15 != int(now - 1.0) // 15:
                print(f"[{now:5.0f} s] " + ", ".join(f"{p.name} {p.messages:,.0f}/lag {p.lag}" for p in progress.values()),
                      file=sys.stderr, flush=True)
            current = {n: p for n, p in progress.items() if n in procs}
            if done(current, now):
                if not waiting:
                    break
                print(f"[{now:5.0f} s] caught up: starting {', '.join(later)}", file=sys.stderr, flush=True)
                start(False)
                waiting = False
            time.sleep(1.0)
    finally:
        stop_procs(procs)
    return progress


def with_relays(specs: list[Any], relays: int, port_offset: int) -> list[Any]:
    """The plan with ``relays`` copies of the registry relay (the onboarding's publisher): each leases its share of
    the topic's partitions (services/runtime/README.md, *Replicas*)."""
    from devstack.ports import copy_shift
    from devstack.stack import ProcessSpec

    have = [s for s in specs if s.service == "registry" and s.role == "relay"]
    extra = []
    for copy in range(len(have) + 1, relays + 1):
        shift = copy_shift("relay", copy)
        extra.append(ProcessSpec(f"registry-relay-{copy}", have[0].argv,
                                 {**have[0].env, "BAOXUE_PORT_OFFSET": str(port_offset + shift)}, "registry", "relay",
                                 copy, shift))
    return specs + extra


def onboarding_rows(students: int, server_url: str, bootstrap: str, workdir: Path, replicas: dict[str, int] | None = None,
                    timeout_s: float = 3600, quiet_s: float = 5.0, trials: tuple[int, ...] = (),
                    staged: bool = False, relays: int = 1) -> list[Row]:
    """Imports, starts every relay and consumer, waits until all have caught up; the table's rows. ``trials``: then
    the consumer that finished last catches up again from the whole backlog (a copy of the database as it was
    right after the import, the same broker) with 1, 2, 3… replicas of it alone: its own speed, not the relay's.
    ``staged``: the consumers start only once the relays have caught up, so each reads full polls from a filled
    broker (started together, a consumer faster than the registry relay works at the relay's pace, in small polls
    whose fixed costs then weigh on its per-CPU-second figure)."""
    from bench.common import free_offset

    offset = free_offset()
    with fresh_database(server_url, "bench_onboarding") as url:
        env = {**os.environ, "BAOXUE_ENV": "test", "BAOXUE_DATABASE_URL": url, "BAOXUE_KAFKA_BOOTSTRAP": bootstrap,
               "BAOXUE_PORT_OFFSET": str(offset), "BAOXUE_DATA_DIR": str(workdir), "BAOXUE_LOG_LEVEL": "WARNING",
               "PYTHONUNBUFFERED": "1"}
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            created, import_s = import_students(students)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        snapshot = _snapshot(server_url, url, f"{urlname(url)}_imported") if trials else None
        try:
            specs = with_relays([s for s in service_processes(replicas=replicas, port_offset=offset)
                                 if s.role in ("relay", "consumer")], relays, offset)

            def caught_up(progress: dict[str, Progress], now: float) -> bool:
                working = [p for p in progress.values() if p.messages]
                return bool(working) and all(p.done(now, quiet_s) for p in working) and all(
                    p.messages for p in progress.values() if p.role == "consumer")

            progress = _follow(specs, env, offset, workdir, timeout_s, quiet_s, caught_up,
                               later=("consumer",) if staged else ())
            rows = _rows(students, created, import_s, progress, {**(replicas or {}), "registry-relay": relays}
                         if relays > 1 else replicas, staged)
            if snapshot:
                rows += _trial_rows(progress, specs, server_url, snapshot, env, workdir, trials, timeout_s, quiet_s)
        finally:
            if snapshot:
                _drop(server_url, snapshot)
    return rows


def urlname(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path.lstrip("/")


def _trial_rows(progress: dict[str, Progress], specs: list[Any], server_url: str, snapshot: str,
                env: dict[str, str], workdir: Path, trials: tuple[int, ...], timeout_s: float,
                quiet_s: float) -> list[Row]:
    """The slowest consumer of the run (the one that caught up last) alone, from the whole backlog, with 1, 2, 3…
    replicas: messages/s of all its replicas together, per CPU-second of them all, and the speed-up over one."""
    from bench.common import free_offset

    consumers = {n: p for n, p in progress.items() if p.role == "consumer" and p.last_change_at is not None}
    if not consumers:
        return []
    slowest = max(consumers, key=lambda n: consumers[n].last_change_at or 0)
    service = next(s.service for s in specs if s.name == slowest)
    expected = consumers[slowest].messages
    rows: list[Row] = []
    base_rate: float | None = None
    for n in trials:
        offset = free_offset()
        trial_url = _snapshot(server_url, snapshot, f"{urlname(snapshot)}_r{n}")
        try:
            trial_env = {**env, "BAOXUE_DATABASE_URL": trial_url, "BAOXUE_PORT_OFFSET": str(offset)}
            copies = [s for s in service_processes(replicas={"consumer": n}, port_offset=offset)
                      if s.service == service and s.role == "consumer"]

            def caught_up(seen: dict[str, Progress], now: float) -> bool:
                total = sum(p.messages for p in seen.values())
                moved = [p.last_change_at for p in seen.values() if p.last_change_at is not None]
                return total >= expected and bool(moved) and now - max(moved) >= quiet_s

            seen = _follow(copies, trial_env, offset, workdir, timeout_s, quiet_s, caught_up)
        finally:
            _drop(server_url, trial_url)
        firsts = [p.first_at for p in seen.values() if p.first_at is not None]
        lasts = [p.last_change_at for p in seen.values() if p.last_change_at is not None]
        total = sum(p.messages for p in seen.values())
        if not firsts or not lasts or max(lasts) <= min(firsts):
            rows.append((f"  {service}-consumer ×{n} from the whole backlog", "did not finish"))
            continue
        rate = total / (max(lasts) - min(firsts))
        cpu = sum((p.cpu_last or 0) - (p.cpu_first or 0) for p in seen.values())
        base_rate = base_rate or rate
        rows.append((f"  {service}-consumer ×{n} alone from the whole backlog ({total:,.0f} messages)",
                     f"{rate:,.0f}/s" + (f" ({total / cpu:,.0f} per CPU-second)" if cpu > 0 else "")
                     + (f", speed-up ×{rate / base_rate:.2f}" if n != trials[0] else "")))
    return rows


def _rows(students: int, created: int, import_s: float, progress: dict[str, Progress],
          replicas: dict[str, int] | None, staged: bool = False) -> list[Row]:
    rows: list[Row] = [(f"onboarding: registry import of {students:,} students",
                        f"{created:,} in {import_s:.1f} s = {created / import_s:,.0f} students/s")]
    finished = {n: p for n, p in progress.items() if p.last_change_at is not None}
    for name, p in sorted(finished.items(), key=lambda kv: kv[1].last_change_at or 0):
        rate, per_cpu = p.rate(), p.per_cpu_second()
        cpu = f" ({per_cpu:,.0f} per CPU-second)" if per_cpu else ""
        rows.append((f"  {name}: {p.messages:,.0f} {'events' if p.role == 'relay' else 'messages'}",
                     f"{rate:,.0f}/s{cpu}, caught up at {p.last_change_at:.1f} s" if rate
                     else f"caught up at {p.last_change_at:.1f} s"))
    if finished:
        last_name, last = max(finished.items(), key=lambda kv: kv[1].last_change_at or 0)
        whole = import_s + (last.last_change_at or 0)
        rows.append((f"onboarding absorbed end to end (last: {last_name}"
                     + (f", replicas {replicas}" if replicas else "")
                     + (", staged: the consumers started after the relays" if staged else "") + ")",
                     f"{whole:.1f} s; at this rate {PROVINCE:,} students ≈ {whole * PROVINCE / max(students, 1) / 60:.0f} min"))
    return rows


def main(students: int = 100_000, replicas: str | None = None, trials: str = "1,2,3", staged: bool = False,
         relays: int = 1) -> None:
    """Runs the onboarding bench on its own embedded PostgreSQL and broker and prints its table."""
    from devstack.stack import parse_replicas
    from services.runtime.infra import EmbeddedPostgres, TansuBroker, free_port, scratch_dir

    with scratch_dir("baoxue-onboarding-") as work:
        pg = EmbeddedPostgres(work / "pg", free_port())
        broker = TansuBroker(free_port())
        pg.start()
        broker.start()
        try:
            rows = onboarding_rows(students, pg.url(), broker.bootstrap, work, parse_replicas(replicas) or None,
                                   trials=tuple(int(n) for n in trials.split(",") if n.strip()), staged=staged,
                                   relays=relays)
        finally:
            broker.stop()
            pg.stop()
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


def _cli(**kwargs: Any) -> None:
    main(**kwargs)


if __name__ == "__main__":
    import typer

    typer.run(main)
