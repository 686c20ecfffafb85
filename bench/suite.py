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
import os
import platform
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable

from bench.common import NA, Row, Size, note, scoped_env
from bench.reporting.figures import reporting_rows
from bench.stack import stack_rows
from services.runtime.scratchdb import fresh_database


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
        from bench.attendance import ingest as attendance_bench
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


def scale_rows(size: Size, server_url: str, bootstrap: str, workdir: Path) -> list[Row]:
    """Issue 16's figures: province onboarding (a bulk import of ``size.students``, then every relay and consumer
    until caught up, two registry relays sharing the partitions; the slowest consumer again alone from the whole backlog with 1, 2 and 3 replicas) and day
    close → CaseOpened with 3 replicas of every consumer; a relay publishing a backlog with 1 and 2 replicas."""
    from bench.onboarding import onboarding_rows

    (workdir / "onboarding").mkdir(parents=True, exist_ok=True)
    rows = onboarding_rows(size.students, server_url, bootstrap, workdir / "onboarding", trials=(1, 2, 3),
                           relays=2)  # two registry relays, as deploy/ runs them: each publishes its partitions
    latency = stack_rows(size, server_url, bootstrap, workdir, {"consumer": 3})
    from bench.relay_shards import shard_rows
    from services.runtime.scratchdb import fresh_database

    with fresh_database(server_url, "bench_shards") as url:  # a relay's throughput with 1 and 2 replicas (shards)
        shards = shard_rows(url, bootstrap, (1, 2), 50_000)
    return rows + latency[:1] + shards


# ------------------------------------------------------------------------------------------------------ the table


def run_suite(size: Size, only: set[str] | None = None, replicas: dict[str, int] | None = None) -> list[Row]:
    """Every section in turn; a failing or missing section is a row with 'n/a', never an exception."""
    from bench.runtime import bench_infra

    rows: list[Row] = []
    with bench_infra() as (server_url, bootstrap), scoped_env(BAOXUE_BENCH_DATABASE_URL=server_url,
                                                                BAOXUE_BENCH_KAFKA_BOOTSTRAP=bootstrap):
        workdir = Path(os.environ.get("BAOXUE_DATA_DIR", "var")).resolve() / "bench"
        workdir.mkdir(parents=True, exist_ok=True)
        sections: list[tuple[str, str, Callable[[], list[Row]]]] = [
            ("ingest", "check-in ingest rate", lambda: ingest_rows(size, server_url)),
            ("stack", "day close → CaseOpened", lambda: stack_rows(size, server_url, bootstrap, workdir, replicas)),
            ("runtime", "event store append rate", lambda: runtime_rows(size)),
            ("reporting", "projection rebuild rate / dashboard query latency",
             lambda: reporting_rows(size, server_url, bootstrap)),
            ("registry", "registry import rate", lambda: registry_rows(size, server_url)),
            ("scale", "province onboarding / replicas", lambda: scale_rows(size, server_url, bootstrap, workdir)),
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
          "dashboard p99 < 50 ms. Targets (issue 16): every consumer ≥ 20,000 events/s · 1,000,000 students "
          "onboarded in < 3 min · p99 day close → case < 1 s with 3 replicas of every consumer. "
          "Figures only; never a failure.")


def main(full: bool = False, students: int | None = None, cases: int | None = None, only: str | None = None,
         replicas: str | None = None) -> None:
    from devstack.stack import parse_replicas

    size = Size.of(full, students, cases)
    started = time.perf_counter()
    rows = run_suite(size, set(only.split(",")) if only else None, parse_replicas(replicas) or None)
    print_table(size, rows, time.perf_counter() - started)
