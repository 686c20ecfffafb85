"""月报告制度 across two services in one process: reporting seals October, reminds the units before the 5th and
marks the late ones overdue; what its relay would publish reaches the notifications policies, which remind the
township and tell the county that the township's report is late (the brokers between them: tests/e2e)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from contracts.events import SchoolRegisteredV1, StudentEnrolledV1
from contracts.events.reporting import MonthlyReportDueV1, MonthlyReportOverdueV1
from services.notifications.domain.directory import Recipient
from services.notifications.tests.world import World
from services.reporting.adapters import projections, schema
from services.reporting.adapters.publishing import facts_from, to_contract
from services.reporting.bootstrap import api, reports_for
from services.reporting.settings import ReportingSettings
from services.reporting.tests.conftest import Feed
from services.runtime.clock import FixedClock
from services.runtime.consumer import OFFSETS_DDL
from services.runtime.db import Database

pytestmark = pytest.mark.integration
TOWNSHIP, COUNTY = "520102007", "520102"
SEPT = datetime(2025, 9, 20, 1, 0, tzinfo=timezone.utc)


@pytest.fixture
def reporting(database_url, tmp_path):
    db = Database(database_url, "reporting")
    schema.install(db)
    db.execute_script(OFFSETS_DDL)
    with db.transaction() as conn:
        conn.execute(f"TRUNCATE inbox, {', '.join(projections.TABLES)}")
        for table in ("monthly_reports", "monthlyreports_events", "scorecard_config"):
            if conn.execute("SELECT to_regclass(%s) AS t", (table,)).fetchone()["t"]:
                conn.execute(f"TRUNCATE {table}")
        conn.execute("DELETE FROM consumer_positions WHERE consumer = 'reporting'")
    feed = Feed(db)
    school = str(uuid.uuid4())
    feed.deliver(SchoolRegisteredV1(school_id=school, code="S7", name="七小", level="primary", county_code=COUNTY,
                                    township_code=TOWNSHIP), at=SEPT)
    feed.deliver(StudentEnrolledV1(student_id=str(uuid.uuid4()), school_id=school, county_code=COUNTY,
                                   township_code=TOWNSHIP, grade=3, class_name="3(1)班", name_masked="张*",
                                   id_number_masked="520102********1234"), at=SEPT)
    clock = FixedClock(datetime(2025, 11, 1, 0, 30, tzinfo=timezone.utc))
    settings = ReportingSettings(database_url=database_url, env="test", data_dir=tmp_path)
    _, runtime = api(settings, clock=clock)
    yield reports_for(runtime, settings), clock, school
    runtime.close()
    db.close()


def test_a_late_township_report_is_chased_and_the_county_is_told(reporting, tmp_path):
    reports, clock, school = reporting
    assert reports.seal("2025-10") == 5  # province, prefecture, county, township, school
    published = 0
    clock.set(clock.now() + timedelta(days=2))  # 3 November: due on the 5th
    assert reports.chase("2025-10", clock.today())["reminded"] == 5
    clock.set(clock.now() + timedelta(days=4))  # 7 November: nobody submitted
    assert reports.chase("2025-10", clock.today())["overdue"] == 5

    world = World(tmp_path)
    world.name(Recipient("township_officer", TOWNSHIP, "twp-li", "李乡长", None),
               Recipient("county_officer", COUNTY, "cty-zhao", "赵局长", None),
               Recipient("prefecture_officer", COUNTY[:4], "pref-wu", "吴处长", None))
    facts = facts_from(reports.app)
    for n in reports.app.recorder.select_notifications(start=1, limit=1000):
        contract = to_contract(reports.app.mapper.to_domain_event(n), facts)
        if isinstance(contract, (MonthlyReportDueV1, MonthlyReportOverdueV1)):
            world.deliver(contract)
            published += 1
    assert published == 10
    due = {(x["recipient_id"], x["text"].split("：")[1][:20]) for x in world.lines("monthly_report_due")}
    # township and school → township; county → county; prefecture → prefecture (the province's own: nobody)
    assert {r for r, _ in due} == {"twp-li", "cty-zhao", "pref-wu"}
    late = world.lines("monthly_report_overdue")
    told = {(x["recipient_id"], TOWNSHIP in x["text"], school in x["text"], f"县（区） {COUNTY}" in x["text"])
            for x in late}
    assert told == {("cty-zhao", True, False, False), ("twp-li", False, True, False),
                    ("pref-wu", False, False, True)}  # the level above each late unit (a county's: its prefecture)
    assert all("张" not in x["text"] for x in world.lines())
