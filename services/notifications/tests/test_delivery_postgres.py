"""The delivery outbox against local fake providers: every channel delivers, outages are retried, refusals give
up, quiet hours defer, muted kinds are not sent, a restart mid-send sends nothing twice, logs carry no phone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
import structlog

from contracts.events import (
    CaseOpenedV1,
    NotificationDeliveredV1,
    NotificationDeliveryFailedV1,
    NotificationDeliverySentV1,
    StudentEnrolledV1,
)
from services.notifications.adapters.channels import FileDeliveryChannel
from services.notifications.adapters.channels_email import SmtpConfig, SmtpEmailChannel
from services.notifications.adapters.channels_robots import DingTalkRobotChannel, WeComRobotChannel
from services.notifications.adapters.channels_sms import SmsConfig, TencentSmsChannel
from services.notifications.adapters.outbox import PostgresOutbox, PostgresPreferences
from services.notifications.adapters.publishing import to_contract
from services.notifications.application import NotificationsApp
from services.notifications.application.delivery import (
    DeliveryRules,
    DeliveryWorker,
    OutboxChannel,
    PreferenceService,
    Receipts,
)
from services.notifications.application.policies import NotificationPolicies
from services.notifications.domain.delivery import QuietHours
from services.notifications.entrypoints.consumers import policies as consumer_policies
from services.notifications.settings import NotificationsSettings
from services.notifications.tests.builders import case_opened, enrolled
from services.notifications.tests.fakes import FakeRobot, FakeSmtp, FakeTencentSms
from services.runtime.clock import FixedClock
from services.runtime.consumer import EventSink
from services.runtime.db import Database
from services.runtime.eventstore import build_application
from services.runtime.scratchdb import fresh_database
from services.runtime.testing import message

pytestmark = pytest.mark.integration

PHONE = "13912345678"
NOON = datetime(2026, 11, 16, 4, 0, tzinfo=timezone.utc)  # 12:00 in Asia/Shanghai
NIGHT = datetime(2026, 11, 16, 15, 0, tzinfo=timezone.utc)  # 23:00 in Asia/Shanghai
RULES = DeliveryRules(default_channels=("sms",), quiet_hours=QuietHours.parse("22:00-07:00"),
                      urgent_templates=frozenset({"deadline_passed_owner"}), max_attempts=4, tries_per_claim=2,
                      backoff_initial_s=30, backoff_max_s=600, jitter_s=1, lease_s=60)


@pytest.fixture
def world(database_url, tmp_path):
    with fresh_database(database_url, "baoxue_dl") as url:
        settings = NotificationsSettings(database_url=url, env="test", data_dir=tmp_path)
        store = build_application(NotificationsApp, settings, "notifications")
        db = Database(url, "notifications")
        sms, wecom, ding, smtp = FakeTencentSms().start(), FakeRobot().start(), FakeRobot("SECtest").start(), \
            FakeSmtp().start()
        try:
            yield World(store, db, sms, wecom, ding, smtp, url)
        finally:
            for fake in (sms, wecom, ding, smtp):
                fake.stop()
            db.close()
            store.close()


class World:
    def __init__(self, store, db, sms, wecom, ding, smtp, url) -> None:
        self.store, self.sms, self.wecom, self.ding, self.smtp, self.url = store, sms, wecom, ding, smtp, url
        self.clock = FixedClock(NOON)
        self.outbox, self.prefs = PostgresOutbox(db), PostgresPreferences(db)
        self.preferences = PreferenceService(self.prefs, self.clock)
        self.channel = OutboxChannel(self.outbox, self.prefs, RULES, self.clock.now)
        self.providers = [
            TencentSmsChannel(SmsConfig("AKIDtest", "key", "1400000000", "保学", "100001", {},
                                        endpoint=f"127.0.0.1:{sms.port}", scheme="http", timeout_s=5)),
            WeComRobotChannel(f"http://127.0.0.1:{wecom.port}/cgi-bin/webhook/send?key=k"),
            DingTalkRobotChannel(f"http://127.0.0.1:{ding.port}/robot/send?access_token=t", "SECtest"),
            SmtpEmailChannel(SmtpConfig("127.0.0.1", smtp.port, "noreply@baoxue.local")),
        ]
        self.receipts = Receipts(store, self.outbox, self.clock)

    def worker(self, owner: str = "w1", providers=None, rules: DeliveryRules = RULES) -> DeliveryWorker:
        return DeliveryWorker(self.store, self.outbox, self.prefs, self.providers if providers is None else providers,
                              rules, self.clock, owner, structlog.get_logger(), sleep=lambda s: None)

    def notify(self, notification_id: str, recipient: str = "twp-wang", template: str = "owner_assigned",
               address: str | None = PHONE) -> None:
        self.channel.send(notification_id, recipient, f"【控辍保学】{recipient}：测试消息", template=template,
                          address=address, township_code="520102001", case_id="case-1")

    def contracts(self) -> list:
        events = self.store.recorder.select_notifications(start=1, limit=1000)
        return [c for e in events if (c := to_contract(self.store.mapper.to_domain_event(e))) is not None]


def test_one_message_per_channel_is_delivered(world):
    world.preferences.put("twp-wang", "520102001", {"sms": PHONE, "wecom": PHONE, "dingtalk": PHONE,
                                                    "email": "wang@example.cn"}, [], None)
    world.notify("8e0d6c55-0000-4000-8000-000000000001")
    assert world.worker().run_once() == {"sent": 4}

    [sms] = world.sms.messages.values()
    assert sms["PhoneNumberSet"] == ["+86" + PHONE] and sms["TemplateParamSet"] == ["【控辍保学】twp-wang：测试消息"]
    [wecom] = world.wecom.messages.values()
    assert wecom == {"msgtype": "text", "text": {"content": "【控辍保学】twp-wang：测试消息",
                                                 "mentioned_mobile_list": [PHONE]}}
    [ding] = world.ding.messages.values()  # the fake verified the HMAC-SHA256 signature of the URL
    assert ding["text"]["content"] == "【控辍保学】twp-wang：测试消息" and ding["at"]["atMobiles"] == [PHONE]
    [mail] = world.smtp.messages.values()
    assert mail["To"] == "wang@example.cn" and "测试消息" in mail.get_payload(decode=True).decode()
    sent = [c for c in world.contracts() if isinstance(c, NotificationDeliverySentV1)]
    assert sorted(c.channel for c in sent) == ["dingtalk", "email", "sms", "wecom"]
    assert all(c.attempt == 1 and c.township_code == "520102001" for c in sent)
    assert world.worker().run_once() == {}  # nothing left, nothing again


def test_a_provider_5xx_is_retried_then_delivered(world):
    world.sms.plan = [500, 502, 503]  # two immediate tries fail, the backed-off third fails, the fourth goes
    world.notify("8e0d6c55-0000-4000-8000-000000000002")
    assert world.worker().run_once() == {"retrying": 1}
    assert world.worker().run_once() == {}  # not due yet: backing off
    world.clock.advance(minutes=5)
    assert world.worker().run_once() == {"sent": 1}
    assert len(world.sms.messages) == 1 and world.sms.requests == 4
    kinds = [(type(c).__name__, getattr(c, "attempt", None)) for c in world.contracts()]
    assert kinds == [("NotificationDeliveryFailedV1", 1), ("NotificationDeliveryFailedV1", 2),
                     ("NotificationDeliveryFailedV1", 3), ("NotificationDeliverySentV1", 4)]
    failed = [c for c in world.contracts() if isinstance(c, NotificationDeliveryFailedV1)]
    assert not any(c.final for c in failed) and failed[1].retry_at > NOON


def test_a_permanent_refusal_is_a_final_failed_receipt(world):
    world.sms.plan = ["FailedOperation.PhoneNumberInBlacklist"]
    world.notify("8e0d6c55-0000-4000-8000-000000000003")
    assert world.worker().run_once() == {"failed": 1}
    [failed] = [c for c in world.contracts() if isinstance(c, NotificationDeliveryFailedV1)]
    assert failed.final and failed.retry_at is None and "PhoneNumberInBlacklist" in failed.reason
    assert PHONE not in failed.model_dump_json()
    world.clock.advance(hours=2)
    assert world.worker().run_once() == {} and world.sms.requests == 1


def test_an_outage_that_lasts_is_given_up(world):
    world.sms.plan = [500] * 10
    world.notify("8e0d6c55-0000-4000-8000-000000000004")
    for _ in range(4):
        world.worker().run_once()
        world.clock.advance(hours=1)
    assert world.sms.requests == RULES.max_attempts
    assert world.outbox.counts() == {"failed": 1}
    assert [c.final for c in world.contracts() if isinstance(c, NotificationDeliveryFailedV1)][-1] is True


def test_quiet_hours_defer_except_urgent_kinds(world):
    world.clock.set(NIGHT)
    world.notify("8e0d6c55-0000-4000-8000-000000000005")
    world.notify("8e0d6c55-0000-4000-8000-000000000006", template="deadline_passed_owner")
    assert world.worker().run_once() == {"deferred": 1, "sent": 1}
    assert [m["SessionContext"] for m in world.sms.messages.values()] and len(world.sms.messages) == 1
    world.clock.set(NIGHT + timedelta(hours=7, minutes=59))  # 06:59 local: still quiet
    assert world.worker().run_once() == {}
    world.clock.set(NIGHT + timedelta(hours=8))  # 07:00 local
    assert world.worker().run_once() == {"sent": 1} and len(world.sms.messages) == 2


def test_a_recipients_own_quiet_hours_win(world):
    world.preferences.put("twp-wang", "520102001", {"sms": PHONE}, [], "11:00-13:00")
    world.notify("8e0d6c55-0000-4000-8000-000000000007")
    assert world.worker().run_once() == {"deferred": 1}


def test_a_muted_kind_or_an_unwanted_channel_is_not_sent(world):
    world.preferences.put("twp-wang", "520102001", {"email": "wang@example.cn"}, ["owner_assigned"], None)
    world.notify("8e0d6c55-0000-4000-8000-000000000008")
    world.notify("8e0d6c55-0000-4000-8000-000000000009", template="deadline_passed_owner")
    assert world.worker().run_once() == {"sent": 1}
    assert world.sms.requests == 0 and len(world.smtp.messages) == 1  # sms not chosen; the muted kind never queued


def test_enqueueing_twice_is_one_delivery(world):
    for _ in range(3):
        world.notify("8e0d6c55-0000-4000-8000-00000000000a")
    assert world.worker().run_once() == {"sent": 1} and len(world.sms.messages) == 1


class Killed(Exception):
    """Stands for the process dying right after the provider accepted the message."""


def test_a_restart_between_send_and_record_sends_nothing_twice(world):
    world.notify("8e0d6c55-0000-4000-8000-00000000000b")
    sms = world.providers[0]

    class DiesAfterSending:
        name = "sms"

        def send(self, message):
            sms.send(message)
            raise Killed

    with pytest.raises(Killed):
        world.worker("w1", [DiesAfterSending()]).run_once()
    assert world.sms.requests == 1 and world.contracts() == []  # sent, nothing recorded
    assert world.worker("w2").run_once() == {}  # the dead worker's lease still holds
    world.clock.advance(seconds=RULES.lease_s + 1)
    assert world.worker("w2").run_once() == {"sent": 1}
    assert world.sms.requests == 2 and len(world.sms.messages) == 1  # the provider dropped the second copy
    assert [type(c) for c in world.contracts()] == [NotificationDeliverySentV1]


def test_a_status_callback_records_delivered_once(world):
    world.notify("8e0d6c55-0000-4000-8000-00000000000c")
    world.worker().run_once()
    serial = next(iter(world.sms.serials.values()))
    assert world.receipts.record("sms", serial, True, "DELIVRD") is True
    assert world.receipts.record("sms", serial, True, "DELIVRD") is False
    assert world.receipts.record("sms", "unknown", True, "DELIVRD") is False
    [delivered] = [c for c in world.contracts() if isinstance(c, NotificationDeliveredV1)]
    assert delivered.status == "DELIVRD" and delivered.channel == "sms"


def test_logs_mask_phone_numbers(world, capsys):
    structlog.configure(processors=[structlog.processors.JSONRenderer()],
                        logger_factory=structlog.PrintLoggerFactory())
    try:
        world.sms.plan = [500, 500, "FailedOperation.PhoneNumberInBlacklist"]
        world.notify("8e0d6c55-0000-4000-8000-00000000000d")
        world.notify("8e0d6c55-0000-4000-8000-00000000000e", recipient="twp-li")
        world.worker().run_once()
        world.clock.advance(hours=1)
        world.worker().run_once()
    finally:
        structlog.reset_defaults()
    out = capsys.readouterr().out
    assert "delivery_sent" in out and "delivery_failed" in out and "139****5678" in out
    assert PHONE not in out
    assert PHONE not in repr([c.model_dump() for c in world.contracts()])


def test_a_case_event_reaches_the_head_teacher_by_sms_through_the_consumer(world):
    """The whole path: a contract -> policy -> dispatcher -> outbox -> worker -> SMS, each once."""
    world.preferences.put("teacher-li", "520102001", {"sms": PHONE}, [], None)
    policies = consumer_policies(NotificationPolicies(world.store, world.channel, world.clock))
    sink = EventSink(world.store)
    student = str(uuid.uuid4())
    sink.apply("notifications:baoxue.registry.v1:0", 1, policies[StudentEnrolledV1],
               message(enrolled(student), sequence=1))
    case = case_opened(student)
    for _ in range(2):  # a redelivery at the same position changes nothing
        sink.apply("notifications:baoxue.casework.v1:0", 1, policies[CaseOpenedV1], message(case, sequence=1))
    assert world.worker().run_once() == {"sent": 1}
    [sms] = world.sms.messages.values()
    assert "李华老师" in sms["TemplateParamSet"][0] and "24小时内家访" in sms["TemplateParamSet"][0]
    [view] = world.store.notifications_for_case(case.case_id)
    assert (view.status, view.channel) == ("sent", "outbox")
    # the delivery keeps the case and township, so its receipt is a valid contract the relay can publish
    [sent] = [c for c in world.contracts() if isinstance(c, NotificationDeliverySentV1)]
    assert (sent.case_id, sent.township_code, sent.recipient_id) == (case.case_id, case.township_code, "teacher-li")


WORKER = """
import sys
from services.notifications.bootstrap import build_store, delivery_worker
from services.notifications.settings import NotificationsSettings
from services.runtime.bootstrap import build_runtime
settings = NotificationsSettings()
runtime = build_runtime("notifications", "scheduler", settings)
print(delivery_worker(settings, runtime, build_store(settings, runtime), owner="doomed").run_once(), flush=True)
"""


def test_a_worker_process_killed_between_send_and_record_sends_nothing_twice(world, tmp_path):
    """A real process, SIGKILLed while the provider has accepted the message but not yet answered."""
    world.notify("8e0d6c55-0000-4000-8000-00000000000f")
    world.sms.plan = ["hold"]
    env = {**os.environ, "BAOXUE_DATABASE_URL": world.url, "BAOXUE_ENV": "test", "BAOXUE_DATA_DIR": str(tmp_path),
           "BAOXUE_QUIET_HOURS": "", "BAOXUE_SMS_SECRET_ID": "AKIDtest", "BAOXUE_SMS_SECRET_KEY": "key",
           "BAOXUE_SMS_SDK_APP_ID": "1400000000", "BAOXUE_SMS_SIGN_NAME": "保学", "BAOXUE_SMS_TEMPLATE_ID": "1",
           "BAOXUE_SMS_ENDPOINT": f"127.0.0.1:{world.sms.port}", "BAOXUE_SMS_SCHEME": "http",
           "BAOXUE_DELIVERY_LEASE_S": "60"}
    proc = subprocess.Popen([sys.executable, "-c", WORKER], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not world.sms.messages and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert len(world.sms.messages) == 1, proc.stderr.read().decode() if proc.poll() is not None else "no send"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        world.sms.released.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert world.contracts() == []  # the provider has it; nothing was recorded
    world.clock.set(datetime.now(timezone.utc) + timedelta(seconds=61))  # the dead worker's lease ran out
    # the real time of day, so no quiet hours here either (as the killed process ran): the test holds at any hour
    assert world.worker("w2", rules=replace(RULES, quiet_hours=None, county_quiet_hours={})).run_once() == {"sent": 1}
    assert world.sms.requests == 2 and len(world.sms.messages) == 1  # the second copy was dropped
    assert [type(c) for c in world.contracts()] == [NotificationDeliverySentV1]


def test_a_dingtalk_robot_with_the_wrong_secret_refuses_for_good(world):
    world.preferences.put("twp-wang", "520102001", {"dingtalk": None}, [], None)
    world.notify("8e0d6c55-0000-4000-8000-000000000010")
    wrong = DingTalkRobotChannel(f"http://127.0.0.1:{world.ding.port}/robot/send?access_token=t", "SECwrong")
    assert world.worker(providers=[wrong]).run_once() == {"failed": 1}
    [failed] = [c for c in world.contracts() if isinstance(c, NotificationDeliveryFailedV1)]
    assert failed.final and "310000" in failed.reason and not world.ding.messages


def test_the_local_file_provider_and_the_metrics_count_outcomes(world, tmp_path):
    world.preferences.put("twp-wang", "520102001", {"file": None}, [], None)
    world.notify("8e0d6c55-0000-4000-8000-000000000011")
    counted: list[tuple[str, str]] = []
    worker = DeliveryWorker(world.store, world.outbox, world.prefs, [FileDeliveryChannel(tmp_path, world.clock.now)],
                            RULES, world.clock, "w1", structlog.get_logger(), sleep=lambda s: None,
                            count=lambda channel, outcome: counted.append((channel, outcome)))
    assert worker.run_once() == {"sent": 1} and counted == [("file", "sent")]
    [line] = (tmp_path / "notifications" / "deliveries.jsonl").read_text(encoding="utf-8").splitlines()
    assert "测试消息" in line
