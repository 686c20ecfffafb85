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
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import httpx

from bench.common import NA, Row, Size, bench_headers, free_offset, ms_summary, note, percentile, scoped_env
from bench.stack import stack_rows, stop_procs, wait_ready
from devstack.stack import baoxue_command
from services.runtime.scratchdb import fresh_database
from services.runtime.settings import SERVICE_PORTS


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
        from bench.registry.imports import bench_import
    except ImportError:
        return [("registry import rate", NA)]
    with fresh_database(server_url, "bench_registry") as url, scoped_env(BAOXUE_DATABASE_URL=url):
        text = _call_command(bench_import, children=size.children, schema="registry_bench", kind="population")
    rate = _rate(text, "children/s")
    return [(f"registry import rate ({size.children:,} children)", f"{rate:,.0f} children/s" if rate else NA)]


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
            note(f"reporting: {loaded:,} synthetic events for {students:,} students loaded in "
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
    offset = free_offset()
    env = {**os.environ, "BAOXUE_ENV": "test", "BAOXUE_DATABASE_URL": url, "BAOXUE_KAFKA_BOOTSTRAP": bootstrap,
           "BAOXUE_PORT_OFFSET": str(offset), "BAOXUE_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(baoxue_command() + ["run", "reporting", "api"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{SERVICE_PORTS['reporting'] + offset}"
    try:
        wait_ready({"reporting": base}, {"reporting-api": proc})
        codes = ["52"]
        for pf in range(1, shape["prefectures"] + 1):
            codes.append(f"52{pf:02d}")
            for co in range(1, shape["counties"] + 1):
                codes.append(f"52{pf:02d}{co:02d}")
                codes.extend(f"52{pf:02d}{co:02d}{tw:03d}" for tw in range(1, shape["townships"] + 1))
        headers = bench_headers("province_officer", "52")
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
        return ms_summary(every) + (f" (province p99 {percentile(province, 0.99) * 1000:,.0f} ms)" if province else "")
    finally:
        stop_procs({"reporting-api": proc})


# ------------------------------------------------------------------------------------------------------ the table


def run_suite(size: Size, only: set[str] | None = None) -> list[Row]:
    """Every section in turn; a failing or missing section is a row with 'n/a', never an exception."""
    from bench.runtime import bench_infra

    rows: list[Row] = []
    with bench_infra() as (server_url, bootstrap), scoped_env(BAOXUE_BENCH_DATABASE_URL=server_url,
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
            note(f"— {label}")
            started = time.perf_counter()
            try:
                rows.extend(section())
            except Exception as exc:  # noqa: BLE001 - a benchmark that cannot run prints n/a, the table goes on
                rows.append((label, f"n/a ({type(exc).__name__}: {str(exc)[:60]})"))
            note(f"  {label}: {time.perf_counter() - started:.0f} s")
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
