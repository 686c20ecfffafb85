"""The walking skeleton across real processes: registry → attendance → casework → notifications →
reporting over HTTP and Kafka, surviving a SIGKILLed consumer and a broker that lost everything."""

from __future__ import annotations

import json
import time
from datetime import date

import httpx
import pytest

from services.registry.domain.registration import id_number_check_digit
from services.runtime.testing import auth
from tests.e2e.harness import Stack, running_stack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

COUNTY = auth("county_officer", "520102", user_id="county-officer-1")
OTHER_COUNTY = auth("county_officer", "520103", user_id="county-officer-9")
MON, TUE, WED = date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18)


@pytest.fixture(scope="module")
def stack(database_url, tmp_path_factory):
    with running_stack(database_url, tmp_path_factory.mktemp("stack")) as s:
        yield s


def child(n: int) -> dict:
    body = f"52010220150301{n:03d}"
    return {
        "id_number": body + id_number_check_digit(body), "name": f"学生{n}", "birth_date": "2015-03-01", "grade": 5,
        "class_name": "5-1", "guardian_name": "家长", "guardian_phone": "13800000000",
        "head_teacher_id": "ht-wang", "head_teacher_name": "王老师",
    }


def school_with_roster(stack: Stack, code: str, name: str, count: int = 3, timeout: float = 60) -> tuple[str, list[str]]:
    """A primary school in township 520102001 with ``count`` children registered, once attendance's roster has them."""
    reg, att = stack.url("registry"), stack.url("attendance")
    r = httpx.post(f"{reg}/v1/schools", headers=COUNTY, timeout=10, json={
        "code": code, "name": name, "level": "primary", "county_code": "520102", "township_code": "520102001"})
    assert r.status_code in (200, 201), r.text
    school_id = r.json()["school_id"]
    students = []
    for n in range(count):
        r = httpx.post(f"{reg}/v1/students", headers=COUNTY, timeout=10, json={**child(n), "school_id": school_id})
        assert r.status_code in (200, 201), r.text
        students.append(r.json()["student_id"])
    assert wait_until(lambda: httpx.get(f"{att}/v1/schools/{school_id}/roster", headers=COUNTY, timeout=10)
                      .json().get("count") == count, timeout=timeout), stack.log_tail("attendance-consumer")
    return school_id, students


def check_in(stack: Stack, school_id: str, day: date, student_ids: list[str], headers: dict) -> httpx.Response:
    items = [
        {"student_id": s, "status": "present", "checked_at": f"{day}T07:50:00+08:00", "device": "gate-1"}
        for s in student_ids
    ]
    return httpx.post(f"{stack.url('attendance')}/v1/schools/{school_id}/days/{day}/checkins", json={"items": items},
                      headers=headers, timeout=30)


def close(stack: Stack, school_id: str, day: date) -> httpx.Response:
    return httpx.post(f"{stack.url('attendance')}/v1/schools/{school_id}/days/{day}/close", headers=COUNTY, timeout=60)


def ledger(stack: Stack, headers=COUNTY) -> list[dict]:
    r = httpx.get(f"{stack.url('reporting')}/v1/ledger", headers=headers, params={"page_size": 200}, timeout=10)
    r.raise_for_status()
    body = r.json()
    return body["items"] if isinstance(body, dict) else body


def county_open_suspected(stack: Stack) -> int:
    r = httpx.get(f"{stack.url('reporting')}/v1/dashboard/counties/520102", headers=COUNTY, timeout=10)
    r.raise_for_status()
    return r.json()["open_suspected_dropouts"]


def outbox(stack: Stack, template: str = "case_opened_head_teacher") -> list[dict]:
    """The head teacher's notices written by the file channel (other templates go to officials)."""
    path = stack.workdir / "notifications" / "outbox.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [line for line in lines if line.get("template") == template]


@pytest.fixture(scope="module")
def school(stack):
    r = httpx.post(f"{stack.url('registry')}/v1/schools", headers=COUNTY, timeout=10, json={
        "code": "E2E-001", "name": "观山湖区第一小学", "level": "primary", "county_code": "520102",
        "township_code": "520102001",
    })
    assert r.status_code in (200, 201), r.text
    school_id = r.json()["school_id"]
    students = []
    for n in range(6):
        r = httpx.post(f"{stack.url('registry')}/v1/students", headers=COUNTY, json={**child(n), "school_id": school_id},
                       timeout=10)
        assert r.status_code in (200, 201), r.text
        students.append(r.json()["student_id"])

    def roster_complete():
        r = httpx.get(f"{stack.url('attendance')}/v1/schools/{school_id}/roster", headers=COUNTY, timeout=10)
        return r.status_code == 200 and r.json()["count"] == 6

    assert wait_until(roster_complete, timeout=30), stack.log_tail("attendance-consumer")
    gate = auth("attendance_system", "520102", user_id="gate-vendor-1", schools=[school_id])
    return {"id": school_id, "students": students, "gate": gate}


def test_two_school_days_absent_open_a_case_that_reaches_the_ledger_and_the_head_teacher(stack, school):
    s = school["students"]
    assert check_in(stack, school["id"], MON, s[:4], school["gate"]).status_code == 200
    r = close(stack, school["id"], MON)
    assert r.status_code == 200, r.text
    assert r.json()["absent"] == 2
    assert check_in(stack, school["id"], TUE, s[:3] + [s[4]], school["gate"]).status_code == 200
    # the same batch again: harmless
    assert check_in(stack, school["id"], TUE, s[:3] + [s[4]], school["gate"]).status_code == 200
    closed_at = time.monotonic()
    assert close(stack, school["id"], TUE).status_code == 200
    rows = wait_until(lambda: ledger(stack), timeout=30)
    latency = time.monotonic() - closed_at
    print(f"\ncase in the ledger {latency:.2f} s after closing the second school day")
    assert len(rows) == 1, stack.log_tail("reporting-consumer")
    assert rows[0]["student_id"] == s[5]
    assert county_open_suspected(stack) == 1
    assert wait_until(lambda: len(outbox(stack)) == 1, timeout=20), stack.log_tail("notifications-consumer")
    assert outbox(stack)[0]["recipient_id"] == "ht-wang"
    assert ledger(stack, headers=OTHER_COUNTY) == []


def test_nothing_is_lost_or_doubled_when_a_consumer_and_the_broker_die_mid_run(stack, school):
    s = school["students"]
    stack.kill("casework-consumer")
    assert check_in(stack, school["id"], WED, s[:3] + [s[4]], school["gate"]).status_code == 200
    assert close(stack, school["id"], WED).status_code == 200  # s3 now 2 days in a row, s5 a third day
    stack.broker.stop()  # the in-memory broker loses every topic
    stack.broker.start()
    stack.start_process("casework-consumer")
    rows = wait_until(lambda: len(ledger(stack)) >= 2 and ledger(stack), timeout=90)
    assert rows, stack.log_tail("casework-consumer") + stack.log_tail("casework-relay")
    assert sorted(r["student_id"] for r in rows) == sorted([s[3], s[5]])
    assert wait_until(lambda: county_open_suspected(stack) == 2, timeout=30)
    assert wait_until(lambda: len(outbox(stack)) >= 2, timeout=30), stack.log_tail("notifications-consumer")
    time.sleep(3)  # let any redelivery after the refill arrive; it must change nothing
    assert len(ledger(stack)) == 2
    assert county_open_suspected(stack) == 2
    assert len({n["notification_id"] for n in outbox(stack)}) == 2
    assert len(outbox(stack)) == 2
    assert stack.unclean_exits() == {}


def test_metrics_and_logs_show_the_flow(stack, school):
    metrics = httpx.get(f"{stack.url('registry')}/metrics", timeout=10).text
    assert 'baoxue_http_requests_total{method="POST",route="/v1/students"' in metrics.replace("service=\"registry\",", "")
    assert 'baoxue_events_appended_total{service="registry",type="Student.Enrolled"}' in metrics
    relay_metrics = httpx.get(f"http://127.0.0.1:{9113 + stack.port_offset}/metrics", timeout=10).text
    assert "baoxue_relay_published_total" in relay_metrics and "baoxue_relay_refills_total" in relay_metrics
    consumer_metrics = httpx.get(f"http://127.0.0.1:{9123 + stack.port_offset}/metrics", timeout=10).text
    assert 'baoxue_consumer_messages_total{consumer="casework"' in consumer_metrics.replace('service="casework",', "")
    assert "baoxue_consumer_lag_messages" in consumer_metrics
    log_line = next(
        json.loads(line) for line in (stack.workdir / "registry-api.log").read_text().splitlines()
        if line.startswith("{") and '"http_request"' in line and "/v1/students" in line
    )
    assert log_line["service"] == "registry" and log_line["correlation_id"] and log_line["actor_id"] == "county-officer-1"


@pytest.mark.parametrize(
    "service, method, path, kwargs, status",
    [
        ("registry", "post", "/v1/schools", {"content": b"{oops", "headers": {**COUNTY, "content-type": "application/json"}}, 422),
        ("registry", "post", "/v1/students", {"json": {**child(50), "school_id": "00000000-0000-0000-0000-000000000000"}, "headers": COUNTY}, 422),
        ("registry", "post", "/v1/students", {"json": child(51)}, 401),
        ("attendance", "post", "/v1/schools/{school}/days/2026-11-19/checkins", {"json": {"items": [{"student_id": "00000000-0000-0000-0000-000000000000", "status": "present", "checked_at": "2026-11-19T07:50:00+08:00", "device": "g"}]}, "headers": COUNTY}, 422),
        ("attendance", "post", "/v1/schools/{school}/days/2099-01-05/checkins", {"json": {"items": []}, "headers": COUNTY}, 422),
        ("attendance", "post", "/v1/schools/{school}/days/2026-11-19/close", {"headers": OTHER_COUNTY}, 403),
        ("attendance", "post", "/v1/schools/{school}/days/2026-11-19/close", {}, 401),
        ("attendance", "post", "/v1/schools/00000000-0000-0000-0000-000000000000/days/2026-11-19/close", {"headers": COUNTY}, 404),
        ("reporting", "get", "/v1/ledger", {}, 401),
        ("casework", "get", "/v1/cases/00000000-0000-0000-0000-000000000000", {"headers": COUNTY}, 404),
    ],
)
def test_bad_input_gets_a_clear_4xx_and_writes_nothing(stack, school, service, method, path, kwargs, status):
    before = ledger(stack)
    r = getattr(httpx, method)(stack.url(service) + path.format(school=school["id"]), timeout=10, **kwargs)
    assert r.status_code == status, r.text
    assert "detail" in r.json()
    day = httpx.get(f"{stack.url('attendance')}/v1/schools/{school['id']}/days/2026-11-19", headers=COUNTY, timeout=10)
    assert day.status_code in (200, 404)
    if day.status_code == 200:
        assert not day.json().get("closed"), "a refused request closed a day"
    assert ledger(stack) == before
