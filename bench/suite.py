"""`baoxue bench` / `make bench`: the headline figures of issue 7 in ONE table.

Composes the per-service benchmarks that exist (runtime event store, attendance ingest, reporting rebuild, registry
import), imported defensively: a missing or failing one prints "n/a", never fails the run; figures are printed,
never asserted. Measured here, across real processes: day close → CaseOpened latency on a whole stack started like
`baoxue up`, peak RSS of every service process meanwhile, and dashboard query latency over HTTP on a reporting API
whose projections were rebuilt from a synthetic province of the chosen size.

Infrastructure: BAOXUE_BENCH_DATABASE_URL / BAOXUE_BENCH_KAFKA_BOOTSTRAP when set, else an embedded PostgreSQL and
a local broker started here (see bench.runtime.bench_infra).
"""

from __future__ import annotations

import contextlib
import io
import inspect
import itertools
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx

from services.runtime.auth import Actor, TokenCodec
from services.runtime.settings import DEV_JWT_SECRET, SERVICE_PORTS, WORKER_METRICS_PORTS
from devstack.catalog import SERVICES
from devstack.stack import baoxue_command, service_processes
from services.runtime.scratchdb import fresh_database

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


def _free_offset(low: int = 1000, high: int = 30000) -> int:
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


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _token(role: str, jurisdiction: str, **extra: Any) -> dict[str, str]:
    actor = Actor(user_id=f"bench-{role}", role=role, jurisdiction=jurisdiction, **extra)
    return {"Authorization": "Bearer " + TokenCodec(DEV_JWT_SECRET).mint(actor, ttl=timedelta(hours=6))}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


def _ms(values: list[float]) -> str:
    return f"p50 {statistics.median(values) * 1000:,.0f} ms · p99 {_percentile(values, 0.99) * 1000:,.0f} ms"


def _call_command(command: Callable[..., Any], **given: Any) -> str:
    """Calls a typer command function directly (its Option defaults resolved) and returns what it printed."""
    kwargs = {}
    for name, param in inspect.signature(command).parameters.items():
        default = param.default
        kwargs[name] = given.get(name, getattr(default, "default", default))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        command(**kwargs)
    text = out.getvalue()
    sys.stderr.write(text)
    return text


def _rate(text: str, unit: str) -> float | None:
    """The last "N unit" figure in a benchmark's printed output (e.g. '61,234 check-ins/s')."""
    found = re.findall(r"([\d,]+(?:\.\d+)?)\s*" + re.escape(unit), text)
    return float(found[-1].replace(",", "")) if found else None


# ---------------------------------------------------------------------------------------------- composed benchmarks


def runtime_rows(size: Size) -> list[Row]:
    from bench.runtime import bench_runtime

    rows = bench_runtime(size.events)
    return [(m.replace("event store append", "event store append rate"), f) for m, f in rows]


def ingest_rows(size: Size, server_url: str) -> list[Row]:
    try:
        from services.attendance import bench as attendance_bench
    except ImportError:
        return [("check-in ingest rate", NA)]
    command = getattr(attendance_bench, "attendance", None)
    if command is None:
        return [("check-in ingest rate", NA)]
    with fresh_database(server_url, "bench_attendance") as url:
        text = _call_command(command, students=size.students, database_url=url, kafka=None)
    rate = _rate(text, "check-ins/s")
    rows = [(f"check-in ingest rate ({size.students:,} students, HTTP bulk)", f"{rate:,.0f} check-ins/s" if rate else NA)]
    detect = re.search(r"last detection on Kafka: ([\d.]+)s", text)
    if detect:
        rows.append((f"day close of {size.students:,} students → last detection on Kafka", f"{float(detect.group(1)):.1f} s"))
    return rows


def registry_rows(size: Size, server_url: str) -> list[Row]:
    try:
        from services.registry.cli import bench_import
    except ImportError:
        return [("registry import rate", NA)]
    with fresh_database(server_url, "bench_registry") as url, _environment(BAOXUE_DATABASE_URL=url):
        text = _call_command(bench_import, children=size.children, schema="registry_bench", kind="population")
    rate = _rate(text, "children/s")
    return [(f"registry import rate ({size.children:,} children)", f"{rate:,.0f} children/s" if rate else NA)]


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
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


# -------------------------------------------------------------------------------- reporting: rebuild and dashboards


def _province(students: int) -> dict[str, int]:
    """A synthetic province of about ``students`` students: 4 prefectures × 5 counties × 10 townships × schools."""
    per_township = max(1, students // 200)
    schools = max(1, min(10, per_township // 20))
    return {"prefectures": 4, "counties": 5, "townships": 10, "schools": schools,
            "students": max(1, per_township // schools)}


def _load_inbox(db: Any, shape: dict[str, int]) -> int:
    """The synthetic history COPYed into the inbox, as the reporting consumer would have stored it."""
    from psycopg.types.json import Jsonb

    from services.reporting import synthetic
    from services.reporting.inbox import effective_time
    from services.runtime.kafka import partition_for

    sequences: dict[str, itertools.count] = {}
    loaded = 0
    with db.transaction() as conn, conn.cursor().copy(
        "COPY inbox (topic, sequence, partition, event_id, type, subject, time, effective_time, envelope, payload) "
        "FROM STDIN"
    ) as copy:
        for g in synthetic.history(seed=7, **shape):
            topic = g.payload.topic
            seq = next(sequences.setdefault(topic, itertools.count(1)))
            envelope = {"id": f"{g.subject}-{seq}", "type": g.payload.ce_type(), "subject": g.subject,
                        "time": g.time.isoformat(), "sequence": seq, "actorrole": "system"}
            copy.write_row((topic, seq, partition_for(g.subject, 6), envelope["id"], envelope["type"], g.subject,
                            g.time, effective_time(g.time, g.payload), Jsonb(envelope),
                            Jsonb(g.payload.model_dump(mode="json"))))
            loaded += 1
    return loaded


def reporting_rows(size: Size, server_url: str, bootstrap: str, queries: int = 200) -> list[Row]:
    try:
        from services.reporting import inbox, projections
        from services.reporting.rebuild import rebuild
    except ImportError:
        return [("projection rebuild rate", NA), ("dashboard query latency", NA)]
    from services.runtime.db import Database

    shape = _province(size.students)
    students = shape["prefectures"] * shape["counties"] * shape["townships"] * shape["schools"] * shape["students"]
    rows: list[Row] = []
    with fresh_database(server_url, "bench_reporting") as url:
        db = Database(url, "reporting")
        try:
            db.execute_script(inbox.DDL + projections.ddl())
            started = time.perf_counter()
            loaded = _load_inbox(db, shape)
            _log(f"reporting: {loaded:,} synthetic events for {students:,} students loaded in "
                 f"{time.perf_counter() - started:.1f} s; rebuilding")
            result = rebuild(db, show_progress=False)
            rows.append((f"projection rebuild rate ({result.events:,} events → {result.rows:,} rows)",
                         f"{result.events_per_second:,.0f} events/s"))
        finally:
            db.close()
        rows.append((f"dashboard query latency ({students:,} students, HTTP)",
                     _dashboard_latency(url, bootstrap, shape, queries)))
    with fresh_database(server_url, "bench_reporting_live") as url:
        from services.reporting.bench import consumer_rate

        db = Database(url, "reporting")
        try:
            events, rate = consumer_rate(db, shape)
            rows.append((f"reporting live consumer ({events:,} events, polls of 500)", f"{rate:,.0f} events/s"))
        finally:
            db.close()
    return rows


def _dashboard_latency(url: str, bootstrap: str, shape: dict[str, int], queries: int) -> str:
    """GET /v1/dashboard/{code} on a real reporting API process, province to township, after a warm-up."""
    offset = _free_offset()
    env = {**os.environ, "BAOXUE_ENV": "test", "BAOXUE_DATABASE_URL": url, "BAOXUE_KAFKA_BOOTSTRAP": bootstrap,
           "BAOXUE_PORT_OFFSET": str(offset), "BAOXUE_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(baoxue_command() + ["run", "reporting", "api"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{SERVICE_PORTS['reporting'] + offset}"
    try:
        _wait_ready({"reporting": base}, {"reporting-api": proc})
        codes = ["52"]
        for pf in range(1, shape["prefectures"] + 1):
            codes.append(f"52{pf:02d}")
            for co in range(1, shape["counties"] + 1):
                codes.append(f"52{pf:02d}{co:02d}")
                codes.extend(f"52{pf:02d}{co:02d}{tw:03d}" for tw in range(1, shape["townships"] + 1))
        headers = _token("province_officer", "52")
        timings: dict[int, list[float]] = {}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            for code in codes[:10]:
                http.get(f"/v1/dashboard/{code}").raise_for_status()
            rng = random.Random(3)
            for i in range(queries):
                # Every level gets its share: the province and prefectures are the expensive ones.
                code = [c for c in codes if len(c) == (2, 4, 6, 9)[i % 4]]
                code = rng.choice(code)
                started = time.perf_counter()
                http.get(f"/v1/dashboard/{code}").raise_for_status()
                timings.setdefault(len(code), []).append(time.perf_counter() - started)
        every = [t for ts in timings.values() for t in ts]
        province = timings.get(2, [])
        return _ms(every) + (f" (province p99 {_percentile(province, 0.99) * 1000:,.0f} ms)" if province else "")
    finally:
        _stop({"reporting-api": proc})


# ------------------------------------------------------------------------- the stack: day close → CaseOpened, memory


@dataclass
class RssSampler:
    """Peak resident memory of each named process (with its children), sampled every 0.2 s in a thread."""

    procs: dict[str, subprocess.Popen]
    peaks: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> "RssSampler":
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            for name, proc in list(self.procs.items()):
                try:
                    p = psutil.Process(proc.pid)
                    rss = p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True))
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                self.peaks[name] = max(self.peaks.get(name, 0), rss)
            self._stop.wait(0.2)

    def rows(self) -> list[Row]:
        out = []
        for service in SERVICES:
            mine = {n.split("-", 1)[1]: v for n, v in self.peaks.items() if n.split("-", 1)[0] == service}
            if not mine:
                out.append((f"peak RSS {service}", NA))
                continue
            parts = ", ".join(f"{role} {v / 2**20:,.0f}" for role, v in sorted(mine.items()))
            out.append((f"peak RSS {service} ({parts} MB)", f"{sum(mine.values()) / 2**20:,.0f} MB"))
        return out


def _wait_ready(bases: dict[str, str], procs: dict[str, subprocess.Popen], timeout: float = 120) -> None:
    pending = dict(bases)
    deadline = time.monotonic() + timeout
    while pending:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"not ready: {', '.join(pending)}")
        for service, base in list(pending.items()):
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    pending.pop(service)
            except httpx.HTTPError:
                pass
        time.sleep(0.2)


def _stop(procs: dict[str, subprocess.Popen]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for proc in procs.values():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _school_days(n: int) -> list[date]:
    """The last n weekdays before today (the default calendar: Monday to Friday)."""
    days, day = [], date.today() - timedelta(days=1)
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return sorted(days)


def _id_number(seq: int) -> str:
    weights, check = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), "10X98765432"
    birth = date(2014, 1, 1) + timedelta(days=seq // 1000)
    first = f"520102{birth:%Y%m%d}{seq % 1000:03d}"
    return first + check[sum(int(d) * w for d, w in zip(first, weights)) % 11]


def stack_rows(size: Size, server_url: str, bootstrap: str, workdir: Path) -> list[Row]:
    """Starts every service process (as `baoxue up` does), times day close → CaseOpened, samples memory."""
    offset = _free_offset()
    with fresh_database(server_url, "bench_stack") as url:
        env = {**os.environ, "BAOXUE_ENV": "test", "BAOXUE_DATABASE_URL": url, "BAOXUE_KAFKA_BOOTSTRAP": bootstrap,
               "BAOXUE_PORT_OFFSET": str(offset), "BAOXUE_DATA_DIR": str(workdir), "BAOXUE_LOG_LEVEL": "WARNING",
               "BAOXUE_ABSENCE_THRESHOLD_DAYS": "2", "PYTHONUNBUFFERED": "1"}
        procs: dict[str, subprocess.Popen] = {}
        sampler = RssSampler(procs)
        try:
            for spec in service_processes():
                log = open(workdir / f"{spec.name}.log", "ab")
                procs[spec.name] = subprocess.Popen(spec.argv, env={**env, **spec.env}, stdout=log,
                                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                    start_new_session=True)
            with sampler:
                bases = {s: f"http://127.0.0.1:{SERVICE_PORTS[s] + offset}" for s in SERVICES}
                _wait_ready(bases, procs)
                latencies = _close_to_case(bases, size.cases)
        finally:
            _stop(procs)
    rows = [(f"day close → CaseOpened in casework API ({len(latencies)} cases, real processes)", _ms(latencies))]
    return rows + sampler.rows()


def _close_to_case(bases: dict[str, str], cases: int) -> list[float]:
    """One school per case (township 520102NNN): a child absent two school days; close day 2, poll for the case."""
    officer = _token("county_officer", "520102")
    run = uuid.uuid4().hex[:6]
    seed = random.randrange(0, 10**6)
    day1, day2 = _school_days(2)
    schools: list[tuple[str, str, str, str]] = []  # school_id, township, present, absent
    with httpx.Client(timeout=60, headers=officer) as http:
        for n in range(cases):
            township = f"520102{1 + n:03d}"
            school = http.post(f"{bases['registry']}/v1/schools", json={
                "code": f"BENCH-{run}-{n}", "name": f"压测学校 {run}-{n}", "level": "primary",
                "county_code": "520102", "township_code": township}).raise_for_status().json()
            ids = []
            for k in range(2):
                body = {"id_number": _id_number(seed + 2 * n + k), "name": "张三丰" if k else "李小龙",
                        "birth_date": None, "school_id": school["school_id"], "grade": 5, "class_name": "5-1",
                        "head_teacher_id": "ht-bench", "head_teacher_name": "王老师"}
                body["birth_date"] = f"{body['id_number'][6:10]}-{body['id_number'][10:12]}-{body['id_number'][12:14]}"
                ids.append(http.post(f"{bases['registry']}/v1/students", json=body).raise_for_status().json()["student_id"])
            schools.append((school["school_id"], township, ids[0], ids[1]))
        _log(f"stack: {cases} schools and {2 * cases} students registered; waiting for attendance rosters")
        deadline = time.monotonic() + 120
        for school_id, *_ in schools:
            while http.get(f"{bases['attendance']}/v1/schools/{school_id}/roster").json().get("count") != 2:
                if time.monotonic() > deadline:
                    raise RuntimeError("attendance rosters did not sync within 120 s")
                time.sleep(0.1)
        for day in (day1, day2):
            items = [{"school_id": s, "student_id": present, "status": "present",
                      "checked_at": f"{day}T07:55:00+08:00", "device": "gate"} for s, _, present, _ in schools]
            http.post(f"{bases['attendance']}/v1/days/{day}/checkins", json={"items": items}).raise_for_status()
        for school_id, *_ in schools:
            http.post(f"{bases['attendance']}/v1/schools/{school_id}/days/{day1}/close").raise_for_status()
        _log(f"stack: day 1 closed for {cases} schools; timing day 2 close → CaseOpened one school at a time")
        latencies = []
        for school_id, township, _, absent in schools:
            started = time.perf_counter()
            http.post(f"{bases['attendance']}/v1/schools/{school_id}/days/{day2}/close").raise_for_status()
            while True:
                items = http.get(f"{bases['casework']}/v1/cases", params={"township_code": township}).json()["items"]
                if any(i.get("student_id") == absent for i in items):
                    latencies.append(time.perf_counter() - started)
                    break
                if time.perf_counter() - started > 30:
                    raise RuntimeError(f"no case for {absent} 30 s after its day close")
                time.sleep(0.005)
    return latencies


# ------------------------------------------------------------------------------------------------------ the table


def run_suite(size: Size, only: set[str] | None = None) -> list[Row]:
    """Every section in turn; a failing or missing section is a row with 'n/a', never an exception."""
    from bench.runtime import bench_infra

    rows: list[Row] = []
    with bench_infra() as (server_url, bootstrap), _environment(BAOXUE_BENCH_DATABASE_URL=server_url,
                                                                BAOXUE_BENCH_KAFKA_BOOTSTRAP=bootstrap):
        workdir = Path(os.environ.get("BAOXUE_DATA_DIR", "var")).resolve() / "bench"
        workdir.mkdir(parents=True, exist_ok=True)
        sections: list[tuple[str, str, Callable[[], list[Row]]]] = [
            ("ingest", "check-in ingest rate", lambda: ingest_rows(size, server_url)),
            ("stack", "day close → CaseOpened", lambda: stack_rows(size, server_url, bootstrap, workdir)),
            ("runtime", "event store append rate", lambda: runtime_rows(size)),
            ("reporting", "projection rebuild rate / dashboard query latency",
             lambda: reporting_rows(size, server_url, bootstrap)),
            ("registry", "registry import rate", lambda: registry_rows(size, server_url)),
        ]
        for key, label, section in sections:
            if only and key not in only:
                continue
            _log(f"— {label}")
            started = time.perf_counter()
            try:
                rows.extend(section())
            except Exception as exc:  # noqa: BLE001 - a benchmark that cannot run prints n/a, the table goes on
                rows.append((label, f"n/a ({type(exc).__name__}: {str(exc)[:60]})"))
            _log(f"  {label}: {time.perf_counter() - started:.0f} s")
    return rows


def print_table(size: Size, rows: list[Row], elapsed_s: float) -> None:
    width = max(len(m) for m, _ in rows) + 2
    fig = max(len(f) for _, f in rows) + 2
    cpu = platform.processor() or platform.machine()
    print()
    print(f"Baoxue benchmarks — size {size.name} ({size.students:,} students) on {platform.node()}, "
          f"{os.cpu_count()} cores {cpu}, Python {platform.python_version()}; {elapsed_s:.0f} s")
    print("=" * (width + fig))
    for measure, figure in rows:
        print(f"{measure:<{width}}{figure:>{fig}}")
    print("=" * (width + fig))
    print("Targets (issue 7): ingest ≥ 50,000 check-ins/s · p99 day close → case < 2 s · rebuild ≥ 30,000 events/s · "
          "dashboard p99 < 50 ms. Figures only; never a failure.")


def main(full: bool = False, students: int | None = None, cases: int | None = None, only: str | None = None) -> None:
    size = Size.of(full, students, cases)
    started = time.perf_counter()
    rows = run_suite(size, set(only.split(",")) if only else None)
    print_table(size, rows, time.perf_counter() - started)
