"""The seeds' story end to end (issue 12, "Done when"): absent two days → case → visit → persuasion fails →
notice → reminder → deadline → correction order → legal documents → return → follow-up → closure, through the public
APIs of the real processes; every step's event is read from Kafka, the PDF of each notice is fetched and checked,
and every owner on both lines (and the county) is told through the real delivery outbox (``BAOXUE_CHANNEL=outbox``):
local fake providers (Tencent SMS ``SendSms``, 企业微信 and 钉钉 robots, SMTP) receive each message, the SMS status
callback reports it delivered, and NotificationDeliverySent/Delivered are read from Kafka."""

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
from services.notifications.tests.fakes import FakeRobot, FakeSmtp, FakeTencentSms
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
         "ReturnNoticeIssued", "CaseDeadlineApproaching", "CaseDeadlinePassed", "CorrectionOrderIssued", "LegalDocumentsIssued", "CaseReturned",
         "CaseDeadlinePassed", "CaseClosed"]


# how each person wants to be told (PUT /v1/preferences): everyone by SMS, which has delivery receipts; three of them
# on a second channel as well, so every provider of the outbox carries part of the story
PHONES = {"twp-li": "13800000011", "cadre-zhang": "13800000012", "ht-wang": "13800000013", "cty-zhao": "13800000002"}
SECOND = {"cadre-zhang": ("wecom", PHONES["cadre-zhang"]), "ht-wang": ("email", "ht-wang@school.example.cn"),
          "cty-zhao": ("dingtalk", PHONES["cty-zhao"])}
JURISDICTION = {"twp-li": TOWNSHIP, "cadre-zhang": TOWNSHIP, "ht-wang": TOWNSHIP, "cty-zhao": "520102"}
CALLBACK_TOKEN = "story-callback-token-0123456789abcdef"


class Providers:
    """The fake providers the delivery worker sends to (the notifications tests' own, shared)."""

    def __init__(self) -> None:
        self.sms, self.wecom = FakeTencentSms().start(), FakeRobot().start()
        self.ding, self.smtp = FakeRobot("SECstory").start(), FakeSmtp().start()

    def env(self) -> dict[str, str]:
        return {
            "BAOXUE_CHANNEL": "outbox", "BAOXUE_DELIVERY_POLL_S": "0.5",
            "BAOXUE_SMS_SECRET_ID": "AKIDstory", "BAOXUE_SMS_SECRET_KEY": "story-key", "BAOXUE_SMS_SDK_APP_ID": "1400000000",
            "BAOXUE_SMS_SIGN_NAME": "保学", "BAOXUE_SMS_TEMPLATE_ID": "100001", "BAOXUE_SMS_SCHEME": "http",
            "BAOXUE_SMS_ENDPOINT": f"127.0.0.1:{self.sms.port}", "BAOXUE_SMS_CALLBACK_TOKEN": CALLBACK_TOKEN,
            "BAOXUE_WECOM_WEBHOOK_URL": f"http://127.0.0.1:{self.wecom.port}/cgi-bin/webhook/send?key=story",
            "BAOXUE_DINGTALK_WEBHOOK_URL": f"http://127.0.0.1:{self.ding.port}/robot/send?access_token=story",
            "BAOXUE_DINGTALK_SECRET": "SECstory",
            "BAOXUE_SMTP_HOST": "127.0.0.1", "BAOXUE_SMTP_PORT": str(self.smtp.port),
        }

    def stop(self) -> None:
        for fake in (self.sms, self.wecom, self.ding, self.smtp):
            fake.stop()


@pytest.fixture(scope="module")
def providers():
    fakes = Providers()
    yield fakes
    fakes.stop()


@pytest.fixture(scope="module")
def stack(database_url, tmp_path_factory, providers):
    workdir = tmp_path_factory.mktemp("story")
    clock = workdir / "clock"
    clock.write_text(f"{TUE.isoformat()}T18:00:00{CHINA}")
    with running_stack(database_url, workdir, extra_env={"BAOXUE_CLOCK_FILE": str(clock), **providers.env()}) as s:
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


def topic_events(stack: Stack, topic: str, key: str | None = None, timeout: float = 5) -> list[tuple[str, dict]]:
    """Every message on a topic (or only those with the key), in order per partition."""
    consumer = Consumer({"bootstrap.servers": stack.broker.bootstrap, "group.id": "story-reader",  # type: ignore[attr-defined]
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    found, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is None or msg.error() or (key is not None and msg.key() != key.encode()):
            continue
        envelope, data = decode(msg.headers(), msg.key(), msg.value())
        found.append((envelope.type.split(".")[3], data))
    consumer.close()
    return found


def case_events(stack: Stack, case_id: str, timeout: float = 5) -> list[tuple[str, dict]]:
    """Every message about the case on the casework topic, in order (one case is one partition)."""
    return topic_events(stack, topics.CASEWORK, case_id, timeout)


def deliveries(stack: Stack, case_id: str) -> dict[str, list[dict]]:
    """The case's delivery receipts on the notifications topic: contract name -> payloads."""
    found: dict[str, list[dict]] = {}
    for name, data in topic_events(stack, topics.NOTIFICATIONS, timeout=3):
        if data.get("case_id") == case_id:
            found.setdefault(name, []).append(data)
    return found


def in_order(found: list[str], story: list[str]) -> bool:
    it = iter(found)
    return all(step in it for step in story)


def test_the_seeds_story_from_two_absent_days_to_closure(stack, providers):
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
         "address": PHONES["cty-zhao"]}]})
    for user_id, phone in PHONES.items():
        channel, address = SECOND.get(user_id, ("sms", phone))
        call("PUT", f"{stack.url('notifications')}/v1/preferences/{user_id}", COUNTY, {
            "jurisdiction_code": JURISDICTION[user_id], "channels": {"sms": phone, channel: address}})

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
    # three days before the notice's deadline (it lasts through 11-20): the scheduler reminds the owners
    set_clock(stack, f"2026-11-18T09:00:00{CHINA}")
    reminded = wait_until(lambda: any(n == "CaseDeadlineApproaching" for n, _ in case_events(stack, case["case_id"], 1)),
                          timeout=30, interval=0.5)
    assert reminded, stack.log_tail("casework-scheduler")
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

    approaching = [d for n, d in found if n == "CaseDeadlineApproaching"]
    assert [(d["step"], d["days_before"]) for d in approaching] == [("return_notice", 3)]

    # the notice of each legal step, the reminder and the missed deadline reach every owner on both lines (and
    # the county): the delivery worker sent each through the providers, which received it
    owners = GOVERNMENT_LINE | EDUCATION_LINE
    wanted = [(u, "case_escalated_owner", 3) for u in owners] + [(u, "deadline_approaching_owner", 1) for u in owners] \
        + [(u, "deadline_passed_owner", 1) for u in owners] + [("cty-zhao", "legal_step_county", 3)]
    receipts: dict[str, list[dict]] = {}

    def sent_everywhere() -> bool:
        receipts.clear()
        receipts.update(deliveries(stack, case["case_id"]))
        sent = receipts.get("NotificationDeliverySent", [])
        for user_id, template, count in wanted:
            for channel in {"sms", SECOND.get(user_id, ("sms",))[0]}:
                if sum(1 for d in sent if (d["recipient_id"], d["template"], d["channel"]) == (user_id, template,
                                                                                                 channel)) < count:
                    return False
        return True

    assert wait_until(sent_everywhere, timeout=90, interval=1), (
        sorted({(d["recipient_id"], d["template"], d["channel"]) for d in receipts.get("NotificationDeliverySent", [])}),
        [(n, d) for n, d in topic_events(stack, topics.NOTIFICATIONS, timeout=5)][-5:],
        stack.log_tail("notifications-relay"))
    sent = receipts["NotificationDeliverySent"]
    by_channel = {"sms": providers.sms.messages, "wecom": providers.wecom.messages, "dingtalk": providers.ding.messages,
                  "email": providers.smtp.messages}
    for d in sent:  # every accepted delivery is a message the provider holds, under the delivery id
        key = f"<{d['delivery_id']}@baoxue.local>" if d["channel"] == "email" else d["delivery_id"]
        assert key in by_channel[d["channel"]], (d, list(by_channel[d["channel"]])[:3])
    sms_to = {u: [m for m in providers.sms.messages.values() if m["PhoneNumberSet"] == ["+86" + p]]
              for u, p in PHONES.items()}
    assert any("观政责改〔2026〕3号" in m["TemplateParamSet"][0] for m in sms_to["cty-zhao"])
    assert all(len(sms_to[u]) >= 5 for u in owners), {u: len(v) for u, v in sms_to.items()}
    mails = [m for m in providers.smtp.messages.values() if m["To"] == SECOND["ht-wang"][1]]
    assert any("司法文书" in m.get_payload(decode=True).decode() for m in mails)
    assert all("故事2" not in m["TemplateParamSet"][0] for m in providers.sms.messages.values())  # masked names only
    # the SMS provider's status callback (回执) reports each SMS delivered: NotificationDelivered per delivery
    reports = [{"sid": serial, "report_status": "SUCCESS", "errmsg": "DELIVRD", "mobile": m["PhoneNumberSet"][0]}
               for key, m in providers.sms.messages.items() if (serial := providers.sms.serials[key])]
    r = httpx.post(f"{stack.url('notifications')}/v1/channels/sms/receipts", params={"token": CALLBACK_TOKEN},
                   json=reports, timeout=30)
    assert r.status_code == 200 and r.json()["recorded"] >= len([d for d in sent if d["channel"] == "sms"]), r.text
    sms_ids = {d["delivery_id"] for d in sent if d["channel"] == "sms"}

    def delivered() -> bool:
        receipts.clear()
        receipts.update(deliveries(stack, case["case_id"]))
        return sms_ids <= {d["delivery_id"] for d in receipts.get("NotificationDelivered", [])}

    assert wait_until(delivered, timeout=60, interval=1), stack.log_tail("notifications-api")
    told = {(d["recipient_id"], d["channel"]) for d in receipts["NotificationDelivered"]}
    assert {u for u, c in told if c == "sms"} == owners | {"cty-zhao"}
    assert all(d["status"] == "DELIVRD" for d in receipts["NotificationDelivered"])
    assert not [d for d in receipts.get("NotificationDeliveryFailed", []) if d["final"]]

    # the paper: each written notice as a PDF whose text carries the case, the issuing body and the code the
    # verify API resolves; its sha256 is the one recorded as evidence (DocumentIssued)
    for kind, title, number in (("return_notice", "劝返复学通知书", "观教通〔2026〕12号"),
                                ("correction_order", "责令限期改正通知书", "观政责改〔2026〕3号"),
                                ("legal_documents", "提请依法发放司法文书函", "观司〔2026〕1号")):
        doc = call("POST", f"{cw}/v1/cases/{case['case_id']}/documents/{kind}", COUNTY, {})
        pdf = httpx.get(f"{cw}/v1/cases/{case['case_id']}/documents/{doc['verification_code']}.pdf",
                        headers=COUNTY, timeout=30)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), pdf.text[:200]
        assert hashlib.sha256(pdf.content).hexdigest() == doc["sha256"] == pdf.headers["x-document-sha256"]
        text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
        assert title in text and case["case_id"] in text and doc["printed_code"] in text, text[:500]
        assert number in text and b"/FontFile2" in pdf.content  # its document number; the glyphs travel with it
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
