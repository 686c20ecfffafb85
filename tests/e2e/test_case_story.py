"""The seeds' story end to end (issue 12, "Done when"): absent two days → case → visit → persuasion fails →
notice → deadline → correction order → legal documents → return → follow-up → closure, through the public APIs
of the real processes; every step's event is read from Kafka and every owner on both lines is told."""

from __future__ import annotations

import hashlib
import io
import json
import time
from datetime import date, datetime
from pathlib import Path

import httpx
import pypdf
import pytest
from confluent_kafka import Consumer, TopicPartition

from contracts import topics
from services.registry.domain.registration import id_number_check_digit
from services.runtime.kafka import decode
from services.runtime.testing import auth
from tests.e2e.harness import Stack, running_stack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

TOWNSHIP, VILLAGE = "520102001", "520102001001"
COUNTY = auth("county_officer", "520102", user_id="cty-zhao")
HEAD_TEACHER = auth("head_teacher", "520102001", user_id="ht-wang")
TOWNSHIP_OFFICER = auth("township_officer", "520102001", user_id="twp-li")
JUSTICE = auth("justice_officer", "520102", user_id="sfs-sun")
SCHOOL_STAFF = auth("school_staff", "520102001", user_id="staff-chen")
CADRE = auth("village_cadre", "520102001", user_id="cadre-zhang")
GOVERNMENT_LINE, EDUCATION_LINE = {"twp-li", "cadre-zhang"}, {"ht-wang"}
MON, TUE = date(2026, 11, 16), date(2026, 11, 17)
CHINA = "+08:00"
STORY = ["CaseOpened", "CaseVerified", "HomeVisitRecorded", "PersuasionAttempted", "CasePlanSet", "HelpProvided",
         "ReturnNoticeIssued", "CaseDeadlinePassed", "CorrectionOrderIssued", "LegalDocumentsIssued", "CaseReturned",
         "CaseDeadlinePassed", "CaseClosed"]


@pytest.fixture(scope="module")
def stack(database_url, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("story")
    clock = workdir / "clock"
    clock.write_text(f"{TUE.isoformat()}T18:00:00{CHINA}")
    with running_stack(database_url, workdir, extra_env={"BAOXUE_CLOCK_FILE": str(clock)}) as s:
        yield s


def set_clock(stack: Stack, at: str) -> None:
    path: Path = stack.workdir / "clock"
    path.write_text(at)


def evidence(kind: str, name: str) -> list[dict]:
    digest = hashlib.sha256(name.encode()).hexdigest()
    return [{"kind": kind, "sha256": digest, "location": f"s3://baoxue-evidence/{digest[:12]}.pdf"}]


def call(method: str, url: str, headers: dict, body: dict | None = None, ok=(200, 201)) -> dict:
    r = httpx.request(method, url, headers=headers, json=body, timeout=30)
    assert r.status_code in ok, (url, r.status_code, r.text)
    return r.json()


def outbox(stack: Stack, template: str | None = None) -> list[dict]:
    path = stack.workdir / "notifications" / "outbox.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [line for line in lines if template is None or line.get("template") == template]


def case_events(stack: Stack, case_id: str, timeout: float = 5) -> list[tuple[str, dict]]:
    """Every message about the case on the casework topic, in order (one case is one partition)."""
    consumer = Consumer({"bootstrap.servers": stack.broker.bootstrap, "group.id": "story-reader",  # type: ignore[attr-defined]
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topics.CASEWORK, p, 0) for p in range(3)])
    found, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is None or msg.error() or msg.key() != case_id.encode():
            continue
        envelope, data = decode(msg.headers(), msg.key(), msg.value())
        found.append((envelope.type.split(".")[3], data))
    consumer.close()
    return found


def in_order(found: list[str], story: list[str]) -> bool:
    it = iter(found)
    return all(step in it for step in story)


def test_the_seeds_story_from_two_absent_days_to_closure(stack):
    reg, att, cw = stack.url("registry"), stack.url("attendance"), stack.url("casework")
    school = call("POST", f"{reg}/v1/schools", COUNTY, {
        "code": "STORY-1", "name": "观山湖区第二小学", "level": "primary", "county_code": "520102",
        "township_code": TOWNSHIP})["school_id"]
    students = []
    for n in range(3):
        body = f"52010220150301{n + 500:03d}"
        students.append(call("POST", f"{reg}/v1/students", COUNTY, {
            "id_number": body + id_number_check_digit(body), "name": f"故事{n}", "birth_date": "2015-03-01",
            "grade": 5, "class_name": "5-2", "guardian_name": "家长", "guardian_phone": "13800000000",
            "school_id": school, "head_teacher_id": "ht-wang", "head_teacher_name": "王老师"})["student_id"])
    call("PUT", f"{cw}/v1/responsibility-maps/{TOWNSHIP}", COUNTY, {"entries": [
        {"slot": "township", "user_id": "twp-li", "name": "李干部", "village_code": VILLAGE},
        {"slot": "village", "user_id": "cadre-zhang", "name": "张村干", "village_code": VILLAGE}]})
    call("POST", f"{stack.url('notifications')}/v1/recipients/import", COUNTY, {"recipients": [
        {"jurisdiction_code": "520102", "role": "county_officer", "user_id": "cty-zhao", "name": "赵明",
         "address": "13800000002"}]})

    def roster() -> bool:
        r = httpx.get(f"{att}/v1/schools/{school}/roster", headers=COUNTY, timeout=10)
        return r.status_code == 200 and r.json()["count"] == 3

    assert wait_until(roster, timeout=30), stack.log_tail("attendance-consumer")
    gate = auth("attendance_system", "520102", user_id="gate-1", schools=[school])
    for day in (MON, TUE):  # the third child is absent both days
        items = [{"student_id": s, "status": "present", "checked_at": f"{day}T07:50:00{CHINA}", "device": "gate-1"}
                 for s in students[:2]]
        call("POST", f"{att}/v1/schools/{school}/days/{day}/checkins", gate, {"items": items})
        call("POST", f"{att}/v1/schools/{school}/days/{day}/close", COUNTY)

    def opened() -> list[dict]:
        r = httpx.get(f"{cw}/v1/cases", headers=COUNTY, timeout=10)
        return r.status_code == 200 and r.json()["items"]

    [case] = wait_until(opened, timeout=30) or [None]
    assert case is not None, stack.log_tail("casework-consumer")
    case_url = f"{cw}/v1/cases/{case['case_id']}"
    assert case["student_id"] == students[2]

    call("POST", f"{case_url}/verification/start", HEAD_TEACHER)
    call("POST", f"{case_url}/verification", HEAD_TEACHER, {"outcome": "dropout", "causes": ["working_away"],
                                                            "cause_analysis": "随父母外出务工"})
    call("POST", f"{case_url}/home", CADRE, {"village_code": VILLAGE})
    visit = {"record_id": "visit-1", "visited_at": f"{TUE}T19:00:00{CHINA}", "visitors": ["王老师", "张村干"],
             "met": ["父亲"], "findings": "孩子在外地打工的父亲处", "evidence": evidence("photo", "家访照片")}
    call("POST", f"{case_url}/visits", HEAD_TEACHER, visit)
    call("POST", f"{case_url}/visits", HEAD_TEACHER, visit)  # a retried submission is harmless
    call("POST", f"{case_url}/persuasions", CADRE, {
        "record_id": "persuasion-1", "method": "phone", "outcome": "refused", "note": "父亲拒绝让孩子返校",
        "persuaders": ["ht-wang"], "place": "remote", "with_whom": ["father"]})
    call("POST", f"{case_url}/plans", HEAD_TEACHER, {"record_id": "plan-1", "measures": ["每周电话劝返", "结对帮扶"]})
    call("POST", f"{case_url}/help", CADRE, {"record_id": "help-1", "help_type": "transport", "detail": "返校车费",
                                             "amount_yuan": 200})

    call("POST", f"{case_url}/legal-steps", HEAD_TEACHER, {
        "step": "return_notice", "document_no": "观教通〔2026〕12号", "addressee": "父亲", "deadline": "2026-11-20",
        "evidence": evidence("signed_notice", "签收回执")})
    set_clock(stack, f"2026-11-21T09:00:00{CHINA}")  # the notice's deadline has passed: the scheduler fires it
    fired = wait_until(lambda: any(t["status"] == "fired" for t in call("GET", case_url, COUNTY)["timers"]),
                       timeout=30)
    assert fired, stack.log_tail("casework-scheduler")
    call("POST", f"{case_url}/legal-steps", TOWNSHIP_OFFICER, {
        "step": "correction_order", "document_no": "观政责改〔2026〕3号", "addressee": "父亲", "deadline": "2026-11-28"})
    call("POST", f"{case_url}/legal-steps", JUSTICE, {
        "step": "legal_documents", "document_no": "观司〔2026〕1号", "addressee": "父亲", "deadline": "2026-12-05"})

    set_clock(stack, f"2026-11-23T09:00:00{CHINA}")
    call("POST", f"{case_url}/return", SCHOOL_STAFF, {"returned_on": "2026-11-23"})
    set_clock(stack, f"2026-12-23T09:00:00{CHINA}")  # 30 days of follow-up are over
    follow_up = wait_until(lambda: all(t["status"] != "pending" for t in call("GET", case_url, COUNTY)["timers"]),
                           timeout=30)
    assert follow_up, stack.log_tail("casework-scheduler")
    call("POST", f"{case_url}/closure", SCHOOL_STAFF, {"reason": "returned", "note": "稳定在校",
                                                       "evidence": evidence("enrolment_proof", "复学证明")})
    assert call("GET", case_url, COUNTY)["stage"] == "closed"

    # every step's event, read from Kafka
    found: list[tuple[str, dict]] = []

    def story_on_kafka() -> bool:
        found[:] = case_events(stack, case["case_id"])
        return in_order([name for name, _ in found], STORY)

    assert wait_until(story_on_kafka, timeout=60, interval=1), [n for n, _ in found]
    names = [name for name, _ in found]
    assert names.count("HomeVisitRecorded") == 1  # the retried visit is one event
    data = {name: d for name, d in found}
    assert data["PersuasionAttempted"]["outcome"] == "refused"
    assert data["PersuasionAttempted"]["with_whom"] == ["father"]
    assert data["HelpProvided"]["category"] == "transport"
    assert data["ReturnNoticeIssued"]["document_no"] == "观教通〔2026〕12号"
    assert datetime.fromisoformat(data["ReturnNoticeIssued"]["deadline_at"]).date() >= date(2026, 11, 20)
    assert data["CorrectionOrderIssued"]["document_no"] == "观政责改〔2026〕3号"
    assert data["LegalDocumentsIssued"]["document_no"] == "观司〔2026〕1号"
    raw = json.dumps([d for _, d in found], ensure_ascii=False)
    for personal in ("故事2", "孩子在外地打工", "父亲拒绝", "返校车费", "每周电话劝返", "王老师"):
        assert personal not in raw

    # the notice of each legal step reaches every owner on both lines, and the county
    def told() -> dict[str, int]:
        counts: dict[str, int] = {}
        for line in outbox(stack, "case_escalated_owner"):
            counts[line["recipient_id"]] = counts.get(line["recipient_id"], 0) + 1
        return counts

    assert wait_until(lambda: all(told().get(u, 0) >= 3 for u in GOVERNMENT_LINE | EDUCATION_LINE), timeout=60), (
        told(), stack.log_tail("notifications-consumer"))
    county = outbox(stack, "legal_step_county")
    assert {line["recipient_id"] for line in county} == {"cty-zhao"} and len(county) == 3
    assert any("观政责改〔2026〕3号" in line["text"] for line in county)
    assert {line["recipient_id"] for line in outbox(stack, "deadline_passed_owner")} >= GOVERNMENT_LINE | EDUCATION_LINE
    # the paper: each written notice as a PDF whose text carries the case, the issuing body and the code the
    # verify API resolves; its sha256 is the one recorded as evidence (DocumentIssued)
    for kind, title in (("return_notice", "劝返复学通知书"), ("correction_order", "责令限期改正通知书")):
        doc = call("POST", f"{cw}/v1/cases/{case['case_id']}/documents/{kind}", COUNTY, {})
        pdf = httpx.get(f"{cw}/v1/cases/{case['case_id']}/documents/{doc['verification_code']}.pdf",
                        headers=COUNTY, timeout=30)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), pdf.text[:200]
        assert hashlib.sha256(pdf.content).hexdigest() == doc["sha256"] == pdf.headers["x-document-sha256"]
        text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
        assert title in text and case["case_id"] in text and doc["printed_code"] in text, text[:500]
        verified = httpx.get(f"{cw}/v1/documents/verify/{doc['verification_code']}", timeout=10).json()
        assert verified["status"] == "valid" and verified["kind"] == kind and verified["sha256"] == doc["sha256"]

    # the ledger row shows the work and the legal step
    def ledger_row() -> dict | None:
        r = httpx.get(f"{stack.url('reporting')}/v1/ledger", headers=COUNTY, timeout=10)
        rows = [x for x in r.json()["items"] if x["case_id"] == case["case_id"]] if r.status_code == 200 else []
        return rows[0] if rows and rows[0]["status"] == "closed" else None

    row = wait_until(ledger_row, timeout=30)
    assert row, stack.log_tail("reporting-consumer")
    assert (row["visits"], row["persuasions"], row["last_persuasion_outcome"], row["help_kinds"]) == (
        1, 1, "refused", "transport")
    assert (row["legal_step"], row["legal_document_no"]) == ("legal_documents", "观司〔2026〕1号")
    assert stack.unclean_exits() == {}
