"""The stack section of `baoxue bench`: day close → CaseOpened latency and peak RSS across real processes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from pathlib import Path
from typing import Any

import httpx

from bench.common import NA, Row, Size, bench_headers, free_offset, ms_summary, note
from bench.stack_stages import Observed, new_traceparent, stage_rows, tracing_env
from devstack.catalog import SERVICES
from devstack.stack import service_processes
from services.runtime.clock import CHINA, FileClock
from services.runtime.scratchdb import fresh_database
from services.runtime.settings import SERVICE_PORTS


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


def cpu_seconds(procs: dict[str, subprocess.Popen]) -> dict[str, float]:
    """CPU time (user + system) each named process and its children have used so far."""
    import psutil

    out = {}
    for name, proc in procs.items():
        try:
            p = psutil.Process(proc.pid)
            out[name] = sum(sum(q.cpu_times()[:2]) for q in [p, *p.children(recursive=True)])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return out


def cpu_rows(before: dict[str, float], after: dict[str, float], wall_s: float) -> list[Row]:
    """The stack's CPU while the closes were timed, per process kind (the machine's load is not the stack's alone)."""
    kinds: dict[str, list[float]] = {}
    for name, used in after.items():
        role = name.split("-", 1)[1].rsplit("-", 1)[0] if name.split("-")[-1].isdigit() else name.split("-", 1)[1]
        kinds.setdefault(role, []).append(used - before.get(name, 0.0))
    parts = ", ".join(f"{role} {sum(v):.1f} s ({len(v)})" for role, v in sorted(kinds.items()))
    total = sum(sum(v) for v in kinds.values())
    return [(f"stack CPU while timing, {wall_s:.0f} s wall ({parts})", f"{total:.1f} CPU-s ({total / wall_s:.2f} cores)")]


def wait_ready(bases: dict[str, str], procs: dict[str, subprocess.Popen], timeout: float = 120) -> None:
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


def stop_procs(procs: dict[str, subprocess.Popen]) -> None:
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


def _school_days(today: date, n: int) -> list[date]:
    """The last n weekdays before ``today`` (the default calendar: Monday to Friday)."""
    days, day = [], today - timedelta(days=1)
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return sorted(days)


def pin_clock(path: Path, wall: datetime | None = None) -> date:
    """Pins the stack's clock (``BAOXUE_CLOCK_FILE``) at 09:00 Asia/Shanghai of today's Shanghai date and returns
    that date, the "today" the bench's school days are counted back from.

    Why: attendance's scheduler closes a county's today on its own once the county's cut-off (18:00 local by
    default) has passed, and a county it sees for the first time starts "through yesterday". On the wall clock,
    a bench run in the Shanghai evening (10:00–16:00 UTC) raced it: the scheduler closed today for every bench
    school, then the bench's own closes of two earlier days were late closes, which by attendance's rule record
    absences with a streak of 1 (no rewriting the past) — so no 疑似辍学, no case ("no case … 30 s after its day
    close"), with or without replicas. At 09:00 nothing is past its cut-off for nine hours of bench time, so the
    only closes are the bench's, in order; and the bench and the services agree on "today" (Shanghai, not UTC)."""
    local = (wall or datetime.now(timezone.utc)).astimezone(CHINA)
    pinned = datetime.combine(local.date(), dtime(9, 0), CHINA)
    FileClock.write(path, pinned)
    return pinned.date()


def _id_number(seq: int) -> str:
    weights, check = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), "10X98765432"
    birth = date(2014, 1, 1) + timedelta(days=seq // 1000)
    first = f"520102{birth:%Y%m%d}{seq % 1000:03d}"
    return first + check[sum(int(d) * w for d, w in zip(first, weights)) % 11]


def stack_rows(size: Size, server_url: str, bootstrap: str, workdir: Path,
               replicas: dict[str, int] | None = None) -> list[Row]:
    """Starts every service process (as `baoxue up` does, ``replicas`` copies per process kind, e.g.
    ``{"consumer": 3}``: every consumer's partitions shared by three replicas), times day close → CaseOpened
    (p50/p99) and, unless ``BAOXUE_BENCH_STAGES=off``, each stage of it from the stack's spans
    (``bench/stack_stages.py``), samples memory."""
    offset = free_offset()
    stages = os.environ.get("BAOXUE_BENCH_STAGES", "on").lower() not in ("off", "0", "false", "no")
    traces = workdir / f"traces-{offset}"
    clock_file = workdir / "stack-clock"
    today = pin_clock(clock_file)
    note(f"stack: clock pinned at {today} 09:00 Asia/Shanghai (before the day-close cut-off)")
    with fresh_database(server_url, "bench_stack") as url:
        env = {**os.environ, "BAOXUE_ENV": "test", "BAOXUE_DATABASE_URL": url, "BAOXUE_KAFKA_BOOTSTRAP": bootstrap,
               "BAOXUE_CLOCK_FILE": str(clock_file),
               "BAOXUE_PORT_OFFSET": str(offset), "BAOXUE_DATA_DIR": str(workdir), "BAOXUE_LOG_LEVEL": os.environ.get("BAOXUE_BENCH_LOG_LEVEL", "WARNING"),
               "BAOXUE_ABSENCE_THRESHOLD_DAYS": "2", "PYTHONUNBUFFERED": "1",
               **(tracing_env(traces) if stages else {})}
        observed: list[Observed] = []
        procs: dict[str, subprocess.Popen] = {}
        sampler = RssSampler(procs)
        try:
            for spec in service_processes(replicas=replicas, port_offset=offset):
                log = open(workdir / f"{spec.name}.log", "ab")
                procs[spec.name] = subprocess.Popen(spec.argv, env={**env, **spec.env}, stdout=log,
                                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                    start_new_session=True)
            with sampler:
                bases = {s: f"http://127.0.0.1:{SERVICE_PORTS[s] + offset}" for s in SERVICES}
                wait_ready(bases, procs)
                marks: list[tuple[float, dict[str, float]]] = []
                latencies = _close_to_case(bases, size.cases, today, observed if stages else None,
                                           mark=lambda: marks.append((time.perf_counter(), cpu_seconds(procs))))
                if stages:
                    time.sleep(1.5)  # the span exporters write every 0.5 s
        finally:
            stop_procs(procs)
    copies = f", replicas {','.join(f'{k}={v}' for k, v in replicas.items())}" if replicas else ""
    rows = [(f"day close → CaseOpened in casework API ({len(latencies)} cases, real processes{copies})",
             ms_summary(latencies))]
    if stages:
        rows += stage_rows(traces, observed)
    if len(marks) == 2:
        rows += cpu_rows(marks[0][1], marks[1][1], marks[1][0] - marks[0][0])
    return rows + sampler.rows()


def _close_to_case(bases: dict[str, str], cases: int, today: date,
                   observed: list[Observed] | None = None, mark: Any = None) -> list[float]:
    """One school per case (township 520102NNN): a child absent the two school days before ``today`` (the stack's
    today); close day 2, poll for the case. With ``observed``, each close is sent with a sampled ``traceparent`` of
    its own and what the bench saw of it (sent, seen: wall clock) is appended there. ``mark()`` is called when the
    timing starts and when it ends."""
    officer = bench_headers("county_officer", "520102")
    run = uuid.uuid4().hex[:6]
    seed = random.randrange(0, 10**6)
    day1, day2 = _school_days(today, 2)
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
        note(f"stack: {cases} schools and {2 * cases} students registered; waiting for attendance rosters")
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
        note(f"stack: day 1 closed for {cases} schools; timing day 2 close → CaseOpened one school at a time")
        latencies = []
        if mark is not None:
            mark()
        for school_id, township, _, absent in schools:
            trace_id, traceparent = new_traceparent()
            headers = {"traceparent": traceparent} if observed is not None else {}
            sent_ns, started = time.time_ns(), time.perf_counter()
            http.post(f"{bases['attendance']}/v1/schools/{school_id}/days/{day2}/close",
                      headers=headers).raise_for_status()
            while True:
                items = http.get(f"{bases['casework']}/v1/cases", params={"township_code": township}).json()["items"]
                if any(i.get("student_id") == absent for i in items):
                    latencies.append(time.perf_counter() - started)
                    if observed is not None:
                        observed.append(Observed(trace_id, sent_ns, time.time_ns()))
                    break
                if time.perf_counter() - started > 30:
                    raise RuntimeError(f"no case for {absent} 30 s after its day close")
                time.sleep(0.005)
        if mark is not None:
            mark()
    return latencies
