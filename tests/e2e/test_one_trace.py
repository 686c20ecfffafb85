"""One traced case across real processes: the day close in attendance (called with a caller's ``traceparent``),
SuspectedDropoutDetected through attendance's relay, casework's consumer opening the case, CaseOpened through
casework's relay, reporting's ledger row and the head teacher's notice are ONE trace, parent to child across the
broker. Every process writes its spans to a file of its own (``OTEL_TRACES_EXPORTER=baoxue_file``)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.runtime.testing import auth
from tests.e2e.harness import running_stack, wait_until
from tests.e2e.test_walking_skeleton import check_in, child, ledger, outbox, school_with_roster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

COUNTY = auth("county_officer", "520102", user_id="county-officer-1")
MON, TUE = date(2026, 11, 16), date(2026, 11, 17)
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def spans_of(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for path in sorted(directory.glob("*.jsonl"))
            for line in path.read_text().splitlines() if line.strip()]


def path_to_root(span: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> list[str]:
    """``service/process: name`` from the span up to the trace's root."""
    chain = []
    while span is not None:
        chain.append(f"{span['service']}/{span['process']}: {span['name']}")
        span = by_id.get(span["parent_id"])
    return chain


def test_a_day_close_and_the_case_it_opens_are_one_trace(database_url, tmp_path):
    traces = tmp_path / "traces"
    (tmp_path / "stack").mkdir()
    env = {"OTEL_TRACES_EXPORTER": "baoxue_file", "BAOXUE_TRACE_DIR": str(traces), "OTEL_BSP_SCHEDULE_DELAY": "200"}
    with running_stack(database_url, tmp_path / "stack", extra_env=env) as stack:
        att = stack.url("attendance")
        school_id, students = school_with_roster(stack, "TR-001", "观山湖区第一小学", timeout=30)
        gate = auth("attendance_system", "520102", user_id="gate-vendor-1", schools=[school_id])
        for day in (MON, TUE):
            assert check_in(stack, school_id, day, students[:2], gate).status_code == 200
            headers = {**COUNTY, "traceparent": CALLER} if day == TUE else COUNTY
            r = httpx.post(f"{att}/v1/schools/{school_id}/days/{day}/close", headers=headers, timeout=60)
            assert r.status_code == 200, r.text
        assert wait_until(lambda: len(ledger(stack)) == 1, timeout=30), stack.log_tail("reporting-consumer")
        assert wait_until(lambda: len(outbox(stack)) == 1, timeout=30), stack.log_tail("notifications-consumer")

        def complete() -> bool:  # reporting's and notifications' spans of CaseOpened (under casework's relay)
            now = [s for s in spans_of(traces) if s["trace_id"] == TRACE_ID]
            ids = {s["span_id"]: s for s in now}
            return {"reporting", "notifications"} <= {
                s["service"] for s in now if s["kind"] == "CONSUMER"
                and any(link.startswith("casework/relay:") for link in path_to_root(s, ids))}
        wait_until(complete, timeout=20)

    spans = [s for s in spans_of(traces) if s["trace_id"] == TRACE_ID]
    by_id = {s["span_id"]: s for s in spans}
    root = next(s for s in spans if s["parent_id"] == "00f067aa0ba902b7")
    assert (root["service"], root["kind"], root["name"]) == (
        "attendance", "SERVER", "POST /v1/schools/{school_id}/days/{day}/close"), root
    # the day close's queries are database spans under its request (psycopg instrumentation)
    queries = [s for s in spans if s["kind"] == "CLIENT" and s["attributes"].get("db.system") == "postgresql"]
    assert any(q["service"] == "attendance" and q["process"] == "api" for q in queries), sorted(
        {s["name"] for s in spans})
    consumed = [s for s in spans if s["kind"] == "CONSUMER"]
    assert {"casework", "reporting", "notifications"} <= {s["service"] for s in consumed}, sorted(
        s["service"] for s in consumed)
    # each consumer's parent is a relay's producer span: the context crossed the broker
    for span in consumed:
        parent = by_id[span["parent_id"]]
        assert parent["kind"] == "PRODUCER" and parent["process"] == "relay", (span["service"], parent)
    opened = by_id[next(s for s in consumed if s["service"] == "casework")["parent_id"]]
    assert opened["service"] == "attendance"
    assert by_id[opened["parent_id"]]["span_id"] == root["span_id"]
    # the case's own publication (CaseOpened) is casework's relay, under casework's consumer; reporting also
    # consumes the detection itself (a span of its own under attendance's relay), and one poll may hold both
    # messages in either order, so the CaseOpened span is looked for among the service's consumer spans
    for service in ("reporting", "notifications"):
        chains = [path_to_root(s, by_id) for s in consumed if s["service"] == service]
        chain = next((c for c in chains if any(link.startswith("casework/relay:") for link in c)), None)
        assert chain is not None, chains
        assert any(link.startswith("casework/consumer:") for link in chain), chain
        assert chain[-1].startswith("attendance/api: POST"), chain
    print("\n" + "\n".join(f"{s['service']:>13} {s['process']:<9} {s['kind']:<9} {s['name']}  <- "
                           f"{by_id[s['parent_id']]['name'] if s['parent_id'] in by_id else s['parent_id']}"
                           for s in sorted(spans, key=lambda s: s["start"])))
    # ids and codes only in attributes: no names, no ID numbers, no phones
    text = json.dumps(spans, ensure_ascii=False)
    for n in range(3):
        for value in (child(n)["name"], child(n)["id_number"], child(n)["guardian_phone"]):
            assert value not in text
