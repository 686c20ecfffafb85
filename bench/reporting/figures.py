"""`baoxue bench --only reporting`: rebuild rate of a synthetic province, dashboard latency over HTTP on a real
reporting API process over it, and the live consumer's rate (rows of the one table ``bench.suite`` prints)."""

from __future__ import annotations

import os
import random
import subprocess
import time

import httpx

from bench.common import NA, Row, Size, bench_headers, free_offset, ms_summary, note, percentile
from bench.stack import stop_procs, wait_ready
from devstack.stack import baoxue_command
from services.runtime.scratchdb import fresh_database
from services.runtime.settings import SERVICE_PORTS


def _province(students: int) -> dict[str, int]:
    """A synthetic province of about ``students`` students: 4 prefectures × 5 counties × 10 townships × schools."""
    per_township = max(1, students // 200)
    schools = max(1, min(10, per_township // 20))
    return {"prefectures": 4, "counties": 5, "townships": 10, "schools": schools,
            "students": max(1, per_township // schools)}


def reporting_rows(size: Size, server_url: str, bootstrap: str, queries: int = 200) -> list[Row]:
    """Rebuild rate, dashboard latency and live consumer rate on a synthetic province of ``size.students``."""
    try:
        from bench.reporting.rebuild import consumer_rate, copy_into_inbox
        from bench.reporting.synthetic import history
        from services.reporting.adapters import inbox, projections
        from services.reporting.adapters.rebuild import rebuild
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
            loaded = copy_into_inbox(db, history(seed=7, **shape))
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
