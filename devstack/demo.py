"""`baoxue demo`: walks the skeleton over HTTP against a running stack and shows each step."""

from __future__ import annotations

import time
import uuid
from datetime import date, timedelta

import httpx

from services.runtime.auth import Actor, TokenCodec
from services.runtime.settings import ServiceSettings


def _id_number(seed: int) -> str:
    weights, check = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), "10X98765432"
    first = f"52010220150301{seed % 1000:03d}"
    return first + check[sum(int(d) * w for d, w in zip(first, weights)) % 11]


def _school_days(today: date, n: int) -> list[date]:
    """The last n weekdays before today (the default calendar: Monday to Friday)."""
    days, day = [], today - timedelta(days=1)
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return sorted(days)


def run_demo() -> None:
    settings = ServiceSettings()
    codec = TokenCodec(settings.jwt_secret, settings.jwt_issuer)
    officer = {"Authorization": "Bearer " + codec.mint(Actor(user_id="demo-county", role="county_officer", jurisdiction="520102"))}
    url = {s: f"http://{settings.host}:{settings.http_port(s)}" for s in ("registry", "attendance", "casework", "reporting")}
    run = uuid.uuid4().hex[:6]
    with httpx.Client(timeout=30) as http:
        school = http.post(f"{url['registry']}/v1/schools", headers=officer, json={
            "code": f"DEMO-{run}", "name": f"演示小学 {run}", "level": "primary", "county_code": "520102",
            "township_code": "520102001"}).raise_for_status().json()
        print(f"1. 学校已登记 school registered: {school['name']} ({school['school_id']})")
        students = []
        seed = int(run, 16)
        for i in range(3):
            body = {"id_number": _id_number(seed + i), "name": ["张三丰", "李小龙", "王二小"][i], "birth_date": "2015-03-01",
                    "school_id": school["school_id"], "grade": 5, "class_name": "5-1", "head_teacher_id": "ht-demo",
                    "head_teacher_name": "王老师"}
            r = http.post(f"{url['registry']}/v1/students", headers=officer, json=body)
            if r.status_code == 409:
                continue
            students.append(r.raise_for_status().json())
        print(f"2. 学生已注册学籍 students enrolled: {', '.join(s['name_masked'] for s in students)}")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            roster = http.get(f"{url['attendance']}/v1/schools/{school['school_id']}/roster", headers=officer)
            if roster.status_code == 200 and roster.json()["count"] == len(students):
                break
            time.sleep(0.2)
        print(f"3. 考勤名册已同步 attendance roster synced over Kafka: {roster.json()['count']} students")
        gate = {"Authorization": "Bearer " + codec.mint(Actor(user_id="demo-gate", role="attendance_system",
                                                              jurisdiction="520102", schools=[school["school_id"]]))}
        absent = students[-1]
        for day in _school_days(settings_today(), 2):
            items = [{"student_id": s["student_id"], "status": "present", "checked_at": f"{day}T07:55:00+08:00",
                      "device": "gate-1"} for s in students[:-1]]
            http.post(f"{url['attendance']}/v1/schools/{school['school_id']}/days/{day}/checkins", headers=gate,
                      json={"items": items}).raise_for_status()
            closed = http.post(f"{url['attendance']}/v1/schools/{school['school_id']}/days/{day}/close", headers=officer)
            closed.raise_for_status()
            closed_at = time.monotonic()
            print(f"4. {day} 已关账 day closed: {closed.json()}")
        while time.monotonic() - closed_at < 15:
            rows = http.get(f"{url['reporting']}/v1/ledger", headers=officer, params={"page_size": 200}).json()
            rows = rows["items"] if isinstance(rows, dict) else rows
            mine = [r for r in rows if r["student_id"] == absent["student_id"]]
            if mine:
                print(f"5. 台账出现疑似辍学个案 case in the ledger after {time.monotonic() - closed_at:.2f} s: {mine[0]}")
                break
            time.sleep(0.1)
        else:
            print("5. 台账中未出现个案 no case in the ledger after 15 s — check the consumer logs")
        county = http.get(f"{url['reporting']}/v1/dashboard/counties/520102", headers=officer).json()
        print(f"6. 县级疑似辍学在案数 open suspected dropouts in county 520102: {county}")
        print(f"   Metrics: {url['registry']}/metrics · API docs: {url['reporting']}/docs")


def settings_today() -> date:
    from services.runtime.clock import clock_from_settings

    s = ServiceSettings()
    return clock_from_settings(s.clock_file, s.timezone).today()
