"""Leave through HTTP: synced in batches (``POST /v1/leaves/batch``) against one request and one approval at a time.

Not a test: it prints leaves/s and never fails on machine speed. It starts its own embedded PostgreSQL and one
attendance API process (``baoxue run attendance api``) unless given a database URL; the roster is seeded by COPY.

    .venv/bin/python -m bench.attendance.leave
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path

import httpx
import typer

from bench.attendance.ingest import _plan, _seed, _wait_http
from services.runtime.infra import embedded_database
from services.runtime.auth import Actor, TokenCodec
from services.runtime.infra import free_port
from services.runtime.settings import DEV_JWT_SECRET

app = typer.Typer(help="Leave sync benchmark (请假同步)", no_args_is_help=False)


def _headers(actor: Actor) -> dict[str, str]:
    return {"Authorization": f"Bearer {TokenCodec(DEV_JWT_SECRET).mint(actor, ttl=timedelta(hours=2))}"}


def _leave(school_id: str, student_id: str, first: date) -> dict:
    last = first + timedelta(days=2)
    return {"school_id": school_id, "student_id": student_id, "first_day": first.isoformat(), "last_day": last.isoformat(),
            "kind": "sick", "reason": "发烧", "external_id": f"bench-{student_id}", "approved_by": "t-1", "note": "同意"}


@app.command()
def leave(
    single: int = typer.Option(1_000, help="Leaves requested and approved one at a time"),
    synced: int = typer.Option(10_000, help="Leaves sent through the batch endpoint"),
    batch: int = typer.Option(500, help="Leaves per batch"),
    per_school: int = typer.Option(500, help="Students per school"),
    database_url: str = typer.Option(None, help="An empty database (default: an embedded server started here)"),
) -> None:
    """Prints leaves/s one by one (2 requests each) and through the batch endpoint, then for the resend."""
    first = date.today() + timedelta(days=1)
    with ExitStack() as stack:
        database_url = database_url or stack.enter_context(embedded_database("bench", "baoxue-bench-leave-"))
        port = free_port()
        env = {**os.environ, "BAOXUE_DATABASE_URL": database_url, "BAOXUE_API_WORKERS": "1", "BAOXUE_PORT_OFFSET": str(port - 8102),
               "BAOXUE_INGEST_RATE_PER_S": "100000", "BAOXUE_INGEST_BURST": "100000", "BAOXUE_LOG_LEVEL": "WARNING",
               "BAOXUE_MAX_LEAVE_BATCH": str(max(batch, 1))}
        api = subprocess.Popen([str(Path(sys.executable).parent / "baoxue"), "run", "attendance", "api"], env=env, stdout=subprocess.DEVNULL)
        stack.callback(lambda: (api.terminate(), api.wait(20)))
        base = f"http://127.0.0.1:{port}"
        _wait_http(base)
        schools = _plan(single + synced, per_school)
        _seed(database_url, schools)
        pairs = [(school_id, student_id) for school_id, _, _, ids in schools for student_id in ids]
        county = schools[0][1]
        staff = _headers(Actor(user_id="bench-staff", role="school_staff", jurisdiction="52"))
        system = _headers(Actor(user_id="bench-app", role="attendance_system", jurisdiction="52", schools=[s[0] for s in schools]))
        print(f"plan: {len(schools)} schools in {len({s[1] for s in schools})} counties (first {county}), leave from {first}")
        with httpx.Client(base_url=base, timeout=600) as http:
            t = time.perf_counter()
            for school_id, student_id in pairs[:single]:
                body = {k: v for k, v in _leave(school_id, student_id, first).items() if k in ("student_id", "first_day", "last_day", "kind", "reason")}
                requested = http.post(f"/v1/schools/{school_id}/leaves", json=body, headers=staff)
                requested.raise_for_status()
                http.post(f"/v1/schools/{school_id}/leaves/{requested.json()['leave_id']}/approve", json={"note": "同意"}, headers=staff).raise_for_status()
            one_by_one = single / (time.perf_counter() - t)
            items = [_leave(school_id, student_id, first) for school_id, student_id in pairs[single:single + synced]]
            rates = []
            for label in ("batch", "resend"):
                t = time.perf_counter()
                counted = 0
                for i in range(0, len(items), batch):
                    response = http.post("/v1/leaves/batch", json={"items": items[i:i + batch]}, headers=system)
                    response.raise_for_status()
                    counted += response.json()["recorded" if label == "batch" else "duplicates"]
                rates.append((label, counted, len(items) / (time.perf_counter() - t)))
    print(f"one at a time (request + approve, 2 HTTP calls): {single:,} leaves → {one_by_one:,.0f} leaves/s")
    for label, counted, rate in rates:
        what = "recorded" if label == "batch" else "duplicates"
        print(f"{label} (POST /v1/leaves/batch, {batch} a batch): {len(items):,} leaves, {counted:,} {what} → {rate:,.0f} leaves/s")
    print(f"batch / one at a time: {rates[0][2] / one_by_one:.1f}x; on {os.cpu_count()} cores")


if __name__ == "__main__":
    app()
