"""Logs and metrics carry no personal data: a whole scenario across real processes with a child, a guardian and
notes full of distinctive personal values, then every process's log and every /metrics page is searched for them."""

from __future__ import annotations

import time
from datetime import date

import httpx
import pytest

from services.registry.domain.registration import id_number_check_digit
from services.runtime.testing import auth
from tests.e2e.harness import Stack, running_stack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

COUNTY = auth("county_officer", "520102", user_id="county-officer-1")
HEAD_TEACHER = auth("head_teacher", "520102", user_id="ht-pii")
MON, TUE = date(2026, 11, 16), date(2026, 11, 17)

CHILD_NAME, GIVEN_NAME = "欧阳晓彤", "晓彤"
BIRTH = "2015-07-23"
ID_BODY = "52010220150723418"
ID_NUMBER = ID_BODY + id_number_check_digit(ID_BODY)
GUARDIAN, GUARDIAN_PHONE = "司马建国", "13987654321"
CLASSMATE_NAME, CLASSMATE_PHONE = "诸葛明轩", "13712345678"
NEEDLES = {
    "child's name": CHILD_NAME, "given name": GIVEN_NAME, "ID number": ID_NUMBER, "ID number body": ID_BODY,
    "birth digits of the ID number": "20150723", "birth date": BIRTH, "guardian's name": GUARDIAN,
    "guardian's phone": GUARDIAN_PHONE, "classmate's name": CLASSMATE_NAME, "classmate's phone": CLASSMATE_PHONE,
}


@pytest.fixture(scope="module")
def stack(database_url, tmp_path_factory):
    # the log channel: whatever a notice says goes to the notifications consumer's log, and is searched too
    with running_stack(database_url, tmp_path_factory.mktemp("pii-stack"), extra_env={"BAOXUE_CHANNEL": "log"}) as s:
        yield s


def person(name: str, id_number: str, birth: str, guardian: str, phone: str) -> dict:
    return {"id_number": id_number, "name": name, "birth_date": birth, "grade": 5, "class_name": "5-1",
            "guardian_name": guardian, "guardian_phone": phone, "head_teacher_id": "ht-pii",
            "head_teacher_name": "王老师"}


def ok(r: httpx.Response) -> httpx.Response:
    assert r.status_code < 300, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r


def run_scenario(stack: Stack) -> None:
    reg, att, cw, rep = (stack.url(s) for s in ("registry", "attendance", "casework", "reporting"))
    school_id = ok(httpx.post(f"{reg}/v1/schools", headers=COUNTY, timeout=10, json={
        "code": "PII-001", "name": "云岩区保学小学", "level": "primary", "county_code": "520102",
        "township_code": "520102001"})).json()["school_id"]
    mate_body = "52010220150914236"
    students = [
        ok(httpx.post(f"{reg}/v1/students", headers=COUNTY, timeout=10, json={**body, "school_id": school_id})).json()
        for body in (person(CHILD_NAME, ID_NUMBER, BIRTH, GUARDIAN, GUARDIAN_PHONE),
                     person(CLASSMATE_NAME, mate_body + id_number_check_digit(mate_body), "2015-09-14", "家长",
                            CLASSMATE_PHONE))
    ]
    absent, present = students[0]["student_id"], students[1]["student_id"]
    # the same child enrolled again, and once with a bad body: answers, not log lines
    httpx.post(f"{reg}/v1/students", headers=COUNTY, timeout=10, json={**person(CHILD_NAME, ID_NUMBER, BIRTH, GUARDIAN,
                                                                              GUARDIAN_PHONE), "school_id": school_id})
    bad = httpx.post(f"{reg}/v1/students", headers=COUNTY, timeout=10,
                     json={**person(CHILD_NAME, ID_NUMBER, BIRTH, GUARDIAN, GUARDIAN_PHONE), "school_id": school_id,
                           "grade": 12})
    assert bad.status_code == 422
    # a source reports the child with its household details; officers look the child up by name and ID number
    ok(httpx.post(f"{reg}/v1/population/records", headers=COUNTY, timeout=10, json={
        "source": "public_security", "id_number": ID_NUMBER, "name": CHILD_NAME, "birth_date": BIRTH, "gender": "女",
        "township_code": "520102001", "village_code": "520102001001", "guardian_name": GUARDIAN,
        "guardian_phone": GUARDIAN_PHONE}))
    ok(httpx.get(f"{reg}/v1/children", headers=COUNTY, params={"name": CHILD_NAME}, timeout=10))
    ok(httpx.get(f"{reg}/v1/children", headers=COUNTY, params={"id_number": ID_NUMBER}, timeout=10))
    ok(httpx.get(f"{reg}/v1/children/by-id-number/{ID_NUMBER}/provenance", headers=COUNTY, timeout=10))
    ok(httpx.get(f"{reg}/v1/children/{absent}/history", headers=COUNTY, timeout=10))
    # bulk import with a bad row, and inputs the edge may not handle well (NaN, a lone surrogate, NUL in a path):
    # whatever they answer, what the process logs about them must not repeat the values
    csv = (f"身份证号,姓名,出生日期,乡镇代码,监护人,监护人电话\n{ID_NUMBER},{CHILD_NAME},{BIRTH},520102001,{GUARDIAN},"
           f"{GUARDIAN_PHONE}\n{ID_BODY}0,{CHILD_NAME},{BIRTH}x,520102001,{GUARDIAN},{GUARDIAN_PHONE}\n")
    httpx.post(f"{reg}/v1/imports/population", headers={**COUNTY, "content-type": "text/csv"}, timeout=30,
               params={"filename": "pop.csv", "valid_only": "true"}, content=csv.encode())
    enrol = person(CHILD_NAME, ID_NUMBER, BIRTH, GUARDIAN, GUARDIAN_PHONE)
    raw = ", ".join(f'"{k}": "{v}"' for k, v in {**enrol, "school_id": school_id}.items() if k != "grade")
    for content in ("{" + raw + ', "grade": NaN}', "{" + raw + ', "grade": 5, "class_name": "\\ud800"}',
                    "{" + raw + ', "nickname": NaN}'):  # a missing grade: pydantic's error holds the whole body
        httpx.post(f"{reg}/v1/students", headers={**COUNTY, "content-type": "application/json"}, timeout=10,
                   content=content.encode())
    httpx.get(f"{reg}/v1/children/by-id-number/{ID_NUMBER}%00/provenance", headers=COUNTY, timeout=10)
    httpx.get(f"{reg}/v1/children/by-id-number/{ID_BODY}0/provenance", headers=COUNTY, timeout=10)

    def roster_complete():
        r = httpx.get(f"{att}/v1/schools/{school_id}/roster", headers=COUNTY, timeout=10)
        return r.status_code == 200 and r.json()["count"] == 2

    assert wait_until(roster_complete, timeout=30), stack.log_tail("attendance-consumer")
    gate = auth("attendance_system", "520102", user_id="gate-pii", schools=[school_id])
    for day in (MON, TUE):  # the child is absent two school days: a suspected dropout, a case
        ok(httpx.post(f"{att}/v1/schools/{school_id}/days/{day}/checkins", headers=gate, timeout=30, json={"items": [
            {"student_id": present, "status": "present", "checked_at": f"{day}T07:50:00+08:00", "device": "gate-1"}]}))
        ok(httpx.post(f"{att}/v1/schools/{school_id}/days/{day}/close", headers=COUNTY, timeout=60))

    def case_opened():
        r = httpx.get(f"{cw}/v1/cases", headers=COUNTY, timeout=10)
        return r.status_code == 200 and r.json()["items"]

    cases = wait_until(case_opened, timeout=60)
    assert cases, stack.log_tail("casework-consumer")
    case = f"{cw}/v1/cases/{cases[0]['case_id']}"
    notes = f"{CHILD_NAME}（身份证 {ID_NUMBER}，生日 {BIRTH}）在家，监护人{GUARDIAN}电话{GUARDIAN_PHONE}"
    ok(httpx.post(f"{case}/verification/start", headers=COUNTY, timeout=10))
    ok(httpx.post(f"{case}/visits", headers={**COUNTY, "Idempotency-Key": "visit-1"}, timeout=10, json={
        "visited_at": f"{TUE}T16:00:00+08:00", "visitors": ["王老师"], "met": [GUARDIAN], "findings": notes}))
    ok(httpx.post(f"{case}/verification", headers=COUNTY, timeout=10, json={
        "outcome": "dropout", "causes": ["working_away"], "cause_analysis": notes}))
    ok(httpx.post(f"{case}/persuasions", headers={**COUNTY, "Idempotency-Key": "persuade-1"}, timeout=10, json={
        "method": "phone", "outcome": "undecided", "note": notes}))
    ok(httpx.post(f"{case}/legal-steps", headers=COUNTY, timeout=10, json={
        "step": "return_notice", "document_no": "云教复〔2026〕1号", "addressee": GUARDIAN}))
    ok(httpx.get(case + "/history", headers=COUNTY, timeout=10))

    def in_ledger():
        r = httpx.get(f"{rep}/v1/ledger", headers=COUNTY, timeout=10)
        return r.status_code == 200 and r.json()["items"]

    assert wait_until(in_ledger, timeout=60), stack.log_tail("reporting-consumer")
    ok(httpx.get(f"{rep}/v1/ledgers/cases/export", headers=COUNTY, params={"format": "csv"}, timeout=30))
    ok(httpx.get(f"{rep}/v1/cases/{cases[0]['case_id']}/timeline", headers=COUNTY, timeout=10))
    delivered = stack.workdir / "notifications-consumer.log"
    assert wait_until(lambda: '"notification_delivered"' in delivered.read_text(errors="replace"), timeout=30), \
        stack.log_tail("notifications-consumer")


def test_after_a_whole_scenario_no_log_line_and_no_metrics_page_holds_personal_data(stack):
    run_scenario(stack)
    time.sleep(3)  # let relays, consumers and schedulers log what the scenario caused

    def silent() -> list[str]:
        """Processes with no log yet (a scheduler on a busy machine may still be starting)."""
        return [name for name in stack.procs if not (stack.workdir / f"{name}.log").read_text(errors="replace")]

    assert wait_until(lambda: not silent(), timeout=60, interval=0.5), f"no log from {silent()}"
    logs = {path.name: path.read_text(errors="replace") for path in sorted(stack.workdir.glob("*.log"))}
    assert len(logs) == len(stack.procs)
    pages = {f"{s}-api": httpx.get(stack.url(s) + "/metrics", timeout=10).text
             for s in ("registry", "attendance", "casework", "notifications", "reporting")}
    for name, spec in stack.specs.items():
        if spec.role != "api":  # a role's name may hold a dash (reporting's inspection-relay)
            pages[name] = httpx.get(stack.metrics_url(spec.service, spec.role, spec.copy), timeout=10).text
    assert all("baoxue_" in page for page in pages.values())
    leaks = [f"{what} in {where}: …{text[max(0, text.index(value) - 80):text.index(value) + len(value) + 40]}…"
             for where, text in {**logs, **{f"{n} /metrics": p for n, p in pages.items()}}.items()
             for what, value in NEEDLES.items() if value in text]
    assert not leaks, "\n".join(leaks)
