"""County day close across a term: does closing get slower as the same children stay away day after day?

Not a test: it prints seconds per close and never fails on machine speed. It builds ``--counties`` counties of
``--students`` students in ``--schools`` schools each (the roster loaded by COPY, as registry's events would leave
it), keeps the same ``--absent`` students of each county away every school day (check-ins of everybody else loaded
by COPY), and closes ``--days`` school days in a row through ``AttendanceApp.close_days`` (what
``POST /v1/counties/{county}/days/{day}/close`` calls). Without ``--database-url`` it starts its own embedded
PostgreSQL; with one it creates a scratch database on that server and drops it afterwards.

    .venv/bin/python -m bench.attendance.close                       # 10,000 students, 3,500 absent, 40 days
    .venv/bin/python -m bench.attendance.close --snapshot-every 0    # without snapshots (every event replayed)
    .venv/bin/python -m bench.attendance.close --counties 8 --students 2000 --absent 700 --days 3 --parallel
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import date, datetime, timedelta
from typing import Any, Optional

import psycopg
import typer

app = typer.Typer(help="County day-close benchmark (关账)", no_args_is_help=False)
NS = uuid.UUID("3b0e8f4a-5c7d-4e21-9a6b-1f2e3d4c5b6a")
FIRST_DAY = date(2025, 9, 1)  # a Monday: the term's first school day
REPORTED = (1, 10, 20, 40)


def school_days(count: int) -> list[date]:
    """The first ``count`` weekdays from ``FIRST_DAY`` (the calendar below has no holidays)."""
    days, day = [], FIRST_DAY
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def plan(counties: int, students: int, schools: int, absent: int) -> list[dict[str, Any]]:
    """Counties as {code, schools: [(school_id, township, [student ids])], absent: set of student ids}."""
    result = []
    per_school = max(1, students // schools)
    for c in range(counties):
        code = f"5299{c:02d}"
        rows = []
        for n in range(schools):
            ids = [str(uuid.uuid5(NS, f"{code}-student-{n}-{k}")) for k in range(per_school)]
            rows.append((str(uuid.uuid5(NS, f"{code}-school-{n}")), f"{code}{1 + n % 5:03d}", ids))
        everyone = [s for _, _, ids in rows for s in ids]
        result.append({"code": code, "schools": rows, "absent": set(everyone[:: max(1, len(everyone) // max(1, absent))][:absent])})
    return result


def seed_roster(url: str, counties: list[dict[str, Any]]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor().copy("COPY attendance.schools (school_id, county_code, township_code) FROM STDIN") as copy:
            for county in counties:
                for school_id, township, _ in county["schools"]:
                    copy.write_row((school_id, county["code"], township))
        with conn.cursor().copy(
            "COPY attendance.students (student_id, school_id, township_code, grade, class_name) FROM STDIN"
        ) as copy:
            for county in counties:
                for school_id, township, ids in county["schools"]:
                    for k, student_id in enumerate(ids):
                        copy.write_row((student_id, school_id, township, 1 + k % 6, f"{1 + k % 6}班"))
        conn.execute("ANALYZE attendance.students")


def seed_checkins(url: str, counties: list[dict[str, Any]], day: date) -> None:
    """Everybody but the county's absentees checked in that day, straight into the day's partition."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS attendance.checkins_{day:%Y%m%d} PARTITION OF attendance.checkins "
            f"FOR VALUES FROM ('{day}') TO ('{day + timedelta(days=1)}')"
        )
        with conn.cursor().copy("COPY attendance.checkins (school_id, day, student_id, status) FROM STDIN") as copy:
            for county in counties:
                away = county["absent"]
                for school_id, _, ids in county["schools"]:
                    for student_id in ids:
                        if student_id not in away:
                            copy.write_row((school_id, day, student_id, "present"))


def events_stored(url: str) -> tuple[int, int]:
    """Events and snapshots in the attendance event store."""
    with psycopg.connect(url) as conn:
        events = conn.execute("SELECT count(*) FROM attendance.attendance_events").fetchone()[0]
        has = conn.execute("SELECT to_regclass('attendance.attendance_snapshots')").fetchone()[0]
        snapshots = conn.execute("SELECT count(*) FROM attendance.attendance_snapshots").fetchone()[0] if has else 0
    return events, snapshots


class _LoadMeter:
    """Wraps the event store's ``load_many``: time spent in it, and the stored rows (snapshots and events) it read."""

    def __init__(self, attendance: Any) -> None:
        self.attendance, self.inner = attendance, attendance.load_many
        self.recorder = attendance.recorder
        attendance.load_many = self.load_many
        self.reset()

    def reset(self) -> None:
        self.seconds, self.aggregates, self.read = 0.0, 0, 0

    def load_many(self, cls: type, aggregate_ids: Any) -> dict:
        ids = list(aggregate_ids)
        self.read += self.rows(ids)
        started = time.perf_counter()
        found = self.inner(cls, ids)
        self.seconds += time.perf_counter() - started
        self.aggregates += len(found)
        return found

    def rows(self, ids: list) -> int:
        """Rows a load of these ids reads: the latest snapshot of each, if any, and the events after it."""
        if not ids:
            return 0
        datastore = self.recorder.datastore
        with datastore.get_connection() as conn:
            has = conn.execute("SELECT to_regclass('attendance.attendance_snapshots')").fetchone()
            snapshots = "attendance.attendance_snapshots" if list(has.values())[0] else None
            if snapshots is None:
                query = "SELECT count(*) AS n FROM attendance.attendance_events WHERE originator_id = ANY(%s)"
            else:
                query = (f"WITH s AS (SELECT originator_id, max(originator_version) AS v FROM {snapshots} "
                         "WHERE originator_id = ANY(%s) GROUP BY 1) "
                         "SELECT (SELECT count(*) FROM s) + count(*) AS n FROM attendance.attendance_events e "
                         "LEFT JOIN s USING (originator_id) WHERE e.originator_id = ANY(%s) "
                         "AND e.originator_version > coalesce(s.v, 0)")
            params = (ids,) if snapshots is None else (ids, ids)
            return conn.execute(query, params).fetchone()["n"]


@app.command()
def close(
    students: int = typer.Option(10_000, help="Students per county"),
    schools: int = typer.Option(20, help="Schools per county"),
    absent: int = typer.Option(3_500, help="Students of each county absent every school day"),
    days: int = typer.Option(40, help="School days closed in a row"),
    counties: int = typer.Option(1, help="Counties"),
    parallel: bool = typer.Option(False, help="Close the counties of a day at the same time (threads, as API requests)"),
    snapshot_every: Optional[int] = typer.Option(None, help="BAOXUE_SNAPSHOT_EVERY for this run (0: no snapshots)"),
    db_pool_size: Optional[int] = typer.Option(None, help="BAOXUE_DB_POOL_SIZE for this run (default: the setting's)"),
    database_url: Optional[str] = typer.Option(None, help="A server to create a scratch database on (default: embedded)"),
) -> None:
    """Prints the close time of every day (and the term's days 1, 10, 20, 40 at the end)."""
    from services.attendance.bootstrap import application
    from services.attendance.settings import AttendanceSettings
    from services.runtime.bootstrap import build_runtime
    from services.runtime.clock import CHINA, FixedClock

    term_days = school_days(days)
    layout = plan(counties, students, schools, absent)
    with ExitStack() as stack:
        if database_url is None:
            from services.runtime.infra import embedded_database

            url = stack.enter_context(embedded_database("bench_close"))
        else:
            from services.runtime.scratchdb import fresh_database

            url = stack.enter_context(fresh_database(database_url, "bench_close"))
        overrides: dict[str, Any] = {"database_url": url, "env": "test", "log_level": "WARNING"}
        if snapshot_every is not None:
            overrides["snapshot_every"] = snapshot_every
        if db_pool_size is not None:
            overrides["db_pool_size"] = db_pool_size
        settings = AttendanceSettings(**overrides)
        clock = FixedClock(datetime.combine(term_days[-1] + timedelta(days=1), datetime.min.time(), CHINA))
        runtime = build_runtime("attendance", "api", settings, clock=clock)
        stack.callback(runtime.close)
        attendance = application(runtime, settings)
        seed_roster(url, layout)
        meta = {"actor_id": "bench-officer", "role": "county_officer", "at": clock.now().isoformat()}
        for county in layout:
            term = {"terms": [{"name": "秋季学期", "start": term_days[0].isoformat(), "end": (term_days[-1] + timedelta(days=60)).isoformat()}]}
            attendance.set_calendar(county["code"], term, meta)
        by_county = {c["code"]: attendance.store.schools(c["code"]) for c in layout}
        snapshots = getattr(settings, "snapshot_every", None)
        print(f"{counties} count{'y' if counties == 1 else 'ies'} × {students:,} students in {schools} schools, "
              f"{absent:,} absent every day, {days} school days; snapshot_every={snapshots}; "
              f"{'parallel' if parallel else 'one after another'}")
        timings: dict[int, list[float]] = {}
        failures: list[str] = []
        loads = _LoadMeter(attendance.event_store)
        for n, day in enumerate(term_days, start=1):
            seed_checkins(url, layout, day)

            def close_county(code: str, day: date = day) -> tuple[float, int]:
                started = time.perf_counter()
                try:
                    summaries = attendance.close_days(day, by_county[code], meta)
                except Exception as exc:  # noqa: BLE001 - reported, as an API client would see a 500
                    print(f"  county {code} {day}: failed after {time.perf_counter() - started:.1f} s: {exc!r}", flush=True)
                    failures.append(code)
                    return time.perf_counter() - started, 0
                return time.perf_counter() - started, sum(s.absent for s in summaries)

            loads.reset()
            cpu, started = time.process_time(), time.perf_counter()
            if parallel and counties > 1:
                with ThreadPoolExecutor(counties) as pool:
                    results = list(pool.map(close_county, by_county))
            else:
                results = [close_county(code) for code in by_county]
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            timings[n] = [s for s, _ in results]
            events, snaps = events_stored(url)
            each = ", ".join(f"{s:.2f}" for s, _ in results)
            print(f"day {n:>3} {day}: close {each} s (wall {wall:.2f} s); absent {sum(a for _, a in results):,}; "
                  f"load_many {loads.seconds:.2f} s for {loads.aggregates:,} aggregates from {loads.read:,} rows; "
                  f"process CPU {cpu:.2f} s; store: {events:,} events, {snaps:,} snapshots", flush=True)
        if failures:
            print(f"failed closes: {len(failures)}")
        print("close time per county, day 1 / 10 / 20 / 40: " + " / ".join(
            f"{max(timings[d]):.2f} s" for d in REPORTED if d in timings))


if __name__ == "__main__":
    app()
