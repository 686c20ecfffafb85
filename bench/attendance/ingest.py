"""`baoxue bench attendance`: a province-day of check-ins through the HTTP API, then day close, timed to Kafka.

Not a test: it prints figures and never fails on machine speed. It starts its own PostgreSQL, broker, attendance
API (N uvicorn workers) and relay unless given a database URL and a broker.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
import orjson
import psycopg
import typer

from contracts import topics
from services.runtime.auth import Actor, TokenCodec
from services.runtime.infra import TansuBroker, embedded_database, free_port
from services.runtime.settings import DEV_JWT_SECRET

app = typer.Typer(help="Attendance benchmark (考勤压测)", no_args_is_help=False)
NS = uuid.UUID("6f1d2c1e-9a7b-4c55-8d0e-2b8f3a1c9e77")
COUNTIES = [f"5201{n:02d}" for n in range(2, 12)]
DETECTED = "cn.baoxue.attendance.SuspectedDropoutDetected.v1"


def _days() -> tuple[date, date]:
    """Two consecutive weekdays in the past (the default calendar's school days)."""
    day = date.today() - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    previous = day - timedelta(days=1)
    while previous.weekday() >= 5:
        previous -= timedelta(days=1)
    return previous, day


def _plan(students: int, per_school: int) -> list[tuple[str, str, str, list[str]]]:
    """Schools as (school_id, county, township, student ids), spread over ten counties."""
    schools = []
    for n in range(max(1, students // per_school)):
        county = COUNTIES[n % len(COUNTIES)]
        school_id = str(uuid.uuid5(NS, f"school-{n}"))
        ids = [str(uuid.uuid5(NS, f"student-{n}-{k}")) for k in range(per_school)]
        schools.append((school_id, county, f"{county}001", ids))
    return schools


def _absent(student_id: str, day_index: int) -> bool:
    """About 2% absent each day; half of day 1's absentees are absent again on day 2 (→ suspected dropouts)."""
    h = uuid.UUID(student_id).int % 1000
    return h < 20 if day_index == 1 else (h < 10 or 20 <= h < 30)


def _seed(url: str, schools: list) -> None:
    """The roster as registry's events would leave it, loaded by COPY (replaying 1M enrolments is not what is measured)."""
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor().copy("COPY attendance.schools (school_id, county_code, township_code) FROM STDIN") as copy:
            for school_id, county, township, _ in schools:
                copy.write_row((school_id, county, township))
        with conn.cursor().copy(
            "COPY attendance.students (student_id, school_id, township_code, grade, class_name) FROM STDIN"
        ) as copy:
            for school_id, _, township, ids in schools:
                for k, student_id in enumerate(ids):
                    copy.write_row((student_id, school_id, township, 1 + k % 9, f"{1 + k % 9}班"))
        conn.execute("ANALYZE attendance.students")


def _seed_checkins(url: str, schools: list, day: date) -> None:
    """Day 1's check-ins straight into storage (day 2 is the one pushed through the API and measured)."""
    name = f"checkins_{day:%Y%m%d}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS attendance.{name} PARTITION OF attendance.checkins "
            f"FOR VALUES FROM ('{day}') TO ('{day + timedelta(days=1)}')"
        )
        with conn.cursor().copy("COPY attendance.checkins (school_id, day, student_id, status) FROM STDIN") as copy:
            for school_id, _, _, ids in schools:
                for student_id in ids:
                    if not _absent(student_id, 1):
                        copy.write_row((school_id, day, student_id, "present"))


def _bodies(schools: list, day: date, batch: int) -> list[bytes]:
    rows, bodies = [], []
    at = f"{day.isoformat()}T07:45:00+08:00"
    for school_id, _, _, ids in schools:
        for student_id in ids:
            if not _absent(student_id, 2):
                rows.append({"school_id": school_id, "student_id": student_id, "status": "present", "checked_at": at, "device": "gate"})
                if len(rows) == batch:
                    bodies.append(orjson.dumps({"items": rows}))
                    rows = []
    if rows:
        bodies.append(orjson.dumps({"items": rows}))
    return bodies


async def _push(base: str, token: str, day: date, bodies: list[bytes], inflight: int) -> list[tuple[float, int]]:
    """Sends every body with ``inflight`` requests in flight; returns (seconds, status) per request."""
    results: list[tuple[float, int]] = []
    queue = list(reversed(bodies))
    headers = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
    # A connection per request: each batch is accepted by whichever API worker is free (kept-alive connections
    # would pin a client to one worker and queue behind it while the other idles).
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, timeout=120, headers=headers, limits=limits) as client:

        async def worker() -> None:
            while queue:
                body = queue.pop()
                started = time.perf_counter()
                response = await client.post(f"/v1/days/{day}/checkins", content=body)
                if response.status_code == 429:
                    queue.append(body)
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                results.append((time.perf_counter() - started, response.status_code))

        await asyncio.gather(*(worker() for _ in range(inflight)))
    return results


def _client(args: tuple) -> list[tuple[float, int]]:
    base, token, day, bodies, inflight, start_at = args
    while time.time() < start_at:
        time.sleep(0.005)
    return asyncio.run(_push(base, token, day, bodies, inflight))


def _token(user: str, role: str, jurisdiction: str) -> str:
    return TokenCodec(DEV_JWT_SECRET).mint(Actor(user_id=user, role=role, jurisdiction=jurisdiction), ttl=timedelta(hours=2))


def _wait_http(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"attendance API did not start at {base}")


def _last_detection(bootstrap: str, expected: int, timeout: float) -> tuple[int, float | None]:
    """Reads the attendance topic until ``expected`` SuspectedDropoutDetected were seen; when the last arrived."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4()}", "auto.offset.reset": "earliest", "log_level": 0}
    )
    consumer.subscribe([topics.ATTENDANCE])
    seen, last = 0, None
    deadline = time.monotonic() + timeout
    try:
        while seen < expected and time.monotonic() < deadline:
            for message in consumer.consume(1000, timeout=0.5):
                if message.error():
                    continue
                headers = dict(message.headers() or [])
                if headers.get("ce_type") == DETECTED.encode():
                    seen += 1
                    stamp = message.timestamp()[1] / 1000 if message.timestamp()[1] > 0 else time.time()
                    last = max(last or 0.0, stamp)
    finally:
        consumer.close()
    return seen, last


def _close_counties(base: str, officer: dict[str, str], day: date, parallel: int) -> None:
    """Each county officer closes their county; ``parallel`` counties at a time (one per API worker)."""
    from concurrent.futures import ThreadPoolExecutor

    def close(county: str) -> None:
        headers = {"Authorization": f"Bearer {officer[county]}"}
        httpx.post(f"{base}/v1/counties/{county}/days/{day}/close", headers=headers, timeout=600).raise_for_status()

    with ThreadPoolExecutor(max(1, parallel)) as pool:
        list(pool.map(close, COUNTIES))


@app.command("attendance")
def attendance(
    students: int = typer.Option(1_000_000, help="Students in the province"),
    per_school: int = typer.Option(500, help="Students per school"),
    batch: int = typer.Option(10_000, help="Check-ins per request"),
    clients: int = typer.Option(2, help="Client processes"),
    inflight: int = typer.Option(2, help="Requests in flight per client"),
    workers: int = typer.Option(2, help="uvicorn workers of the attendance API"),
    database_url: str = typer.Option(None, help="An empty database (default: an embedded server started here)"),
    kafka: str = typer.Option(None, help="Broker bootstrap (default: a tansu broker started here)"),
) -> None:
    """Province-day: day 1 seeded and closed, day 2 pushed through HTTP and closed; prints the figures."""
    day1, day2 = _days()
    with ExitStack() as stack:
        if database_url is None:
            database_url = stack.enter_context(embedded_database("bench"))
        if kafka is None:
            broker = TansuBroker(free_port())
            broker.start()
            stack.callback(broker.stop)
            kafka = broker.bootstrap
        port = free_port()
        env = {
            **os.environ,
            "BAOXUE_DATABASE_URL": database_url,
            "BAOXUE_KAFKA_BOOTSTRAP": kafka,
            "BAOXUE_API_WORKERS": str(workers),
            "BAOXUE_PORT_OFFSET": str(port - 8102),
            "BAOXUE_INGEST_RATE_PER_S": "100000",
            "BAOXUE_INGEST_BURST": "100000",
            "BAOXUE_LOG_LEVEL": "WARNING",
            "BAOXUE_DB_POOL_SIZE": "8",
        }
        exe = [str(Path(sys.executable).parent / "baoxue"), "run", "attendance"]
        api = subprocess.Popen([*exe, "api"], env=env, stdout=subprocess.DEVNULL)
        stack.callback(lambda: (api.terminate(), api.wait(20)))
        base = f"http://127.0.0.1:{port}"
        _wait_http(base)
        schools = _plan(students, per_school)
        print(f"plan: {len(schools)} schools, {students:,} students, days {day1} (seeded) and {day2} (measured)")
        t = time.perf_counter()
        _seed(database_url, schools)
        _seed_checkins(database_url, schools, day1)
        print(f"seeded roster and day-1 check-ins in {time.perf_counter() - t:.1f}s")
        relay = subprocess.Popen([*exe, "relay"], env={**env, "BAOXUE_PORT_OFFSET": str(free_port() - 9112)}, stdout=subprocess.DEVNULL)
        stack.callback(lambda: (relay.terminate(), relay.wait(20)))
        officer = {c: _token(f"bench-officer-{c}", "county_officer", c) for c in COUNTIES}
        t = time.perf_counter()
        for county in COUNTIES:
            httpx.post(f"{base}/v1/counties/{county}/days/{day1}/close", headers={"Authorization": f"Bearer {officer[county]}"}, timeout=600).raise_for_status()
        print(f"day-1 close (absences recorded, no detections yet): {time.perf_counter() - t:.1f}s")

        shares = [schools[i::clients] for i in range(clients)]
        bodies = [_bodies(share, day2, batch) for share in shares]
        total = sum(orjson.loads(b)["items"].__len__() for bs in bodies for b in bs)
        start_at = time.time() + 1.0
        args = [(base, _token(f"bench-client-{i}", "county_officer", "52"), day2, bodies[i], inflight, start_at) for i in range(clients)]
        with mp.get_context("spawn").Pool(clients) as pool:
            results = [r for part in pool.map(_client, args) for r in part]
        elapsed = time.time() - start_at
        latencies = sorted(s for s, _ in results)
        statuses = {code: sum(1 for _, c in results if c == code) for code in {c for _, c in results}}
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        with psycopg.connect(database_url) as conn:
            stored = conn.execute("SELECT count(*) FROM attendance.checkins WHERE day = %s", (day2,)).fetchone()[0]
        print(f"day-2 check-ins: {total:,} sent, {stored:,} stored in {elapsed:.2f}s → {total / elapsed:,.0f} check-ins/s")
        print(f"requests: {len(results)} {statuses}; latency p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")

        expected = sum(1 for _, _, _, ids in schools for s in ids if _absent(s, 1) and _absent(s, 2))
        closed_at = time.time()
        t = time.perf_counter()
        _close_counties(base, officer, day2, workers)
        print(f"day-2 close of {len(schools)} schools: {time.perf_counter() - t:.1f}s")
        seen, last = _last_detection(kafka, expected, timeout=600)
        lag = (last - closed_at) if last else float("nan")
        print(f"SuspectedDropoutDetected on Kafka: {seen:,}/{expected:,}; day close → last detection on Kafka: {lag:.1f}s")
        print(f"at {datetime.now(timezone.utc).isoformat(timespec='seconds')} on {os.cpu_count()} cores")


if __name__ == "__main__":
    app()
