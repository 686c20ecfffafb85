"""Every case action reaches the ledger and the timeline (issue 12): visits, persuasion outcomes, help kinds, the
current legal step with its document and deadline; an export cell a document reference poisons stays text."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from contracts.events import casework as c
from services.reporting.bootstrap import api
from services.reporting.settings import ReportingSettings
from services.runtime.clock import FixedClock
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
TOWNSHIP = "520102001"
COUNTY = auth("county_officer", "520102")
OTHER_COUNTY = auth("county_officer", "520103")
AT = datetime(2025, 9, 16, 2, 0, tzinfo=timezone.utc)
POISONED_NO = '=HYPERLINK("http://evil.example","通知")'


@pytest.fixture(scope="module")
def client(database_url, tmp_path_factory):
    settings = ReportingSettings(database_url=database_url, env="test", data_dir=tmp_path_factory.mktemp("var"))
    app, runtime = api(settings, clock=FixedClock(datetime(2025, 9, 20, 4, 0, tzinfo=timezone.utc)))
    with TestClient(app) as cl:
        yield cl
    runtime.close()


@pytest.fixture
def worked(feed):
    school = feed.school(TOWNSHIP)
    student = feed.student(school, TOWNSHIP)
    case = feed.case(student, school, TOWNSHIP)
    ids = {"case_id": case.case_id, "township_code": TOWNSHIP}
    at = lambda h: AT + timedelta(hours=h)  # noqa: E731
    for payload in (
        c.CaseVerifiedV1(**ids, student_id=student, outcome="dropout", causes=["working_away"], verified_at=at(1)),
        c.HomeVisitRecordedV1(**ids, record_id="v1", visited_at=at(2), visitor_count=2, met_count=1, evidence_count=1,
                              recorded_by="ht-7", recorded_at=at(2)),
        c.HomeVisitRecordedV1(**ids, record_id="v2", visited_at=at(3), visitor_count=1, met_count=2, evidence_count=0,
                              recorded_by="cadre-3", recorded_at=at(3)),
        c.PersuasionAttemptedV1(**ids, record_id="p1", method="home_visit", outcome="undecided", persuaders=["ht-7"],
                                place="home", with_whom=["father"], attempted_at=at(4)),
        c.PersuasionAttemptedV1(**ids, record_id="p2", method="phone", outcome="refused", persuaders=["cadre-3"],
                                place="remote", with_whom=["father"], attempted_at=at(5)),
        c.HelpProvidedV1(**ids, record_id="h1", kind="transport", category="transport", amount_yuan=200.0,
                         provided_by="cadre-3", provided_at=at(6)),
        c.HelpProvidedV1(**ids, record_id="h2", kind="financial_aid", category="subsidy", amount_yuan=None,
                         provided_by="cadre-3", provided_at=at(7)),
        c.CasePlanSetV1(**ids, record_id="plan1", plan_version=1, measure_count=3, target_return_on=date(2025, 10, 8),
                        set_by="ht-7", set_at=at(8)),
        c.ReturnNoticeIssuedV1(**ids, student_id=student, document_no=POISONED_NO, issued_by="ht-7", issued_at=at(9),
                               deadline_at=datetime(2025, 9, 22, 16, tzinfo=timezone.utc), overridden=False,
                               automatic=False, evidence_count=1),
        c.CaseOwnersReassignedV1(**ids, slot="head_teacher", line="education", user_id="ht-9",
                                 previous_user_id="ht-7", reassigned_by="lead-1", reassigned_at=at(10)),
    ):
        feed.deliver(payload, subject=case.case_id, at=at(11))
    return case


def test_the_ledger_row_counts_visits_and_shows_outcome_help_and_legal_step(client, worked):
    r = client.get("/v1/ledger", headers=COUNTY)
    assert r.status_code == 200, r.text
    (row,) = [i for i in r.json()["items"] if i["case_id"] == worked.case_id]
    assert (row["visits"], row["persuasions"], row["last_persuasion_outcome"], row["help_kinds"]) == (
        2, 2, "refused", "subsidy,transport")
    assert (row["legal_step"], row["legal_document_no"], row["status"], row["deadline_status"]) == (
        "return_notice", POISONED_NO, "legal", "pending")
    assert row["deadline_at"].startswith("2025-09-22T16:00")
    assert "head_teacher=ht-9" in row["edu_owners"]


def test_the_timeline_shows_every_action_in_order(client, worked):
    r = client.get(f"/v1/cases/{worked.case_id}/timeline", headers=COUNTY)
    assert r.status_code == 200, r.text
    steps = [s["step"] for s in r.json()["steps"]]
    assert steps == ["CaseOpened", "CaseVerified", "HomeVisitRecorded", "HomeVisitRecorded", "PersuasionAttempted",
                     "PersuasionAttempted", "HelpProvided", "HelpProvided", "CasePlanSet", "ReturnNoticeIssued",
                     "CaseOwnersReassigned"]
    summaries = [s["summary"] for s in r.json()["steps"]]
    assert "劝返（电话）：拒绝返校" in summaries and "帮扶：交通帮扶（200 元）" in summaries
    assert any("书面复学通知书" in s and "限期至 2025-09-23" in s for s in summaries)


def test_outside_the_county_the_case_is_not_seen(client, worked):
    assert client.get(f"/v1/cases/{worked.case_id}/timeline", headers=OTHER_COUNTY).status_code in (403, 404)
    r = client.get("/v1/ledger", headers=OTHER_COUNTY)
    assert r.status_code in (200, 403) and worked.case_id not in r.text


def test_the_new_columns_are_exported_with_chinese_labels_and_a_poisoned_document_no_stays_text(client, worked):
    r = client.get("/v1/ledgers/cases/export", params={"format": "csv"}, headers=COUNTY)
    assert r.status_code == 200, r.text
    lines = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    header = next(line for line in lines if "家访次数" in line)
    row = dict(zip(header, lines[-1]))
    assert (row["家访次数"], row["劝返次数"], row["最近劝返结果"], row["帮扶类型"], row["依法控辍步骤"]) == (
        "2", "2", "拒绝返校", "资助补助、交通帮扶", "书面复学通知书")
    assert row["文书编号"] == "'" + POISONED_NO


def test_a_case_with_no_work_records_shows_zero_counts(client, feed):
    school = feed.school(TOWNSHIP)
    case = feed.case(feed.student(school, TOWNSHIP), school, TOWNSHIP)
    (row,) = [i for i in client.get("/v1/ledger", headers=COUNTY).json()["items"] if i["case_id"] == case.case_id]
    assert (row["visits"], row["persuasions"], row["help_kinds"], row["legal_document_no"]) == (0, 0, None, None)
    assert uuid.UUID(case.case_id)
