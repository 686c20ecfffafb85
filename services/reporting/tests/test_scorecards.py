"""Scorecards: every figure of a seeded month equals an independent count from the seeded facts; weights and
targets are versioned per jurisdiction; a late monthly report is flagged and published for notifications."""

from __future__ import annotations

import random
import statistics
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from contracts.events import CaseOpenedV1, SchoolRegisteredV1, StudentEnrolledV1
from contracts.events.casework import (
    CaseDeadlinePassedV1, CaseEscalatedV1, CaseOwnersAssignedV1, CaseReturnedV1, CaseVerifiedV1,
)
from contracts.events.registry import OutOfSchoolChildIdentifiedV1, OutOfSchoolChildRetractedV1
from contracts.events.reporting import (
    MonthlyReportDueV1, MonthlyReportOverdueV1, MonthlyReportSubmittedV1, ScorecardPublishedV1,
)
from services.reporting.adapters.publishing import facts_from, to_contract
from services.reporting.bootstrap import api, reports_for, scorecards_for
from services.reporting.settings import ReportingSettings
from services.runtime.clock import FixedClock
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
COUNTY, T1, T2 = "520102", "520102001", "520102002"
ADMIN = auth("admin", "52")
COUNTY_OFFICER = auth("county_officer", COUNTY)
OCT = datetime(2025, 10, 1, 1, 0, tzinfo=timezone.utc)
NOV_1 = datetime(2025, 11, 1, 0, 30, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def stack(database_url, tmp_path_factory):
    clock = FixedClock(NOV_1)
    settings = ReportingSettings(database_url=database_url, env="test", data_dir=tmp_path_factory.mktemp("var"))
    app, runtime = api(settings, clock=clock)
    reports = reports_for(runtime, settings)
    with TestClient(app) as c:
        yield c, clock, reports, scorecards_for(runtime, settings, reports)
    runtime.close()


@pytest.fixture
def client(stack, feed, reporting_db):
    c, clock, _, _ = stack
    clock.set(NOV_1)
    with reporting_db.transaction() as conn:
        conn.execute("TRUNCATE scorecard_config")
    return c


@dataclass
class Case:
    case_id: str
    township: str
    school: str | None
    opened: datetime
    outcome: str | None = None  # None (suspected), not_dropout, dropout
    returned_on: date | None = None
    overdue: bool = False
    gov: bool = False
    edu: bool = False
    trigger: str = field(default_factory=lambda: str(uuid.uuid4()))


@pytest.fixture
def seeded(feed):
    """A county of two townships and three schools in October 2025, with cases of every kind (seeded)."""
    rng = random.Random(13)
    schools = {_school(feed, T1, "一小"): T1, _school(feed, T1, "二小"): T1, _school(feed, T2, "三中"): T2}
    students = {s: [_student(feed, s, t) for _ in range(n)] for (s, t), n in zip(schools.items(), (40, 30, 25))}
    cases: list[Case] = []
    for i in range(24):
        school = rng.choice(sorted(schools))
        student = students[school].pop()
        c = Case(str(uuid.uuid4()), schools[school], school, OCT + timedelta(days=rng.randrange(20), minutes=i))
        feed.deliver(CaseOpenedV1(case_id=c.case_id, student_id=student, school_id=school, township_code=c.township,
                                  source="attendance", trigger_id=c.trigger, opened_at=c.opened),
                     subject=c.case_id, at=c.opened)
        at = c.opened + timedelta(hours=2)
        r = rng.random()
        if r >= 0.3:
            c.outcome = "not_dropout" if r < 0.45 else "dropout"
            feed.deliver(CaseVerifiedV1(case_id=c.case_id, student_id=student, township_code=c.township,
                                        outcome=c.outcome, reason="moved" if c.outcome == "not_dropout" else None,
                                        causes=["poverty"] if c.outcome == "dropout" else [], verified_at=at),
                         subject=c.case_id, at=at)
        owners = [o for o, line, keep in (("township", "government", rng.random() < 0.7),
                                          ("head_teacher", "education", rng.random() < 0.7)) if keep]
        if owners:
            c.gov, c.edu = "township" in owners, "head_teacher" in owners
            feed.deliver(CaseOwnersAssignedV1(
                case_id=c.case_id, township_code=c.township, automatic=True, assigned_at=at,
                owners=[{"slot": o, "line": "government" if o == "township" else "education", "user_id": f"u-{o}-{i}"}
                        for o in owners]), subject=c.case_id, at=at)
        if c.outcome == "dropout" and rng.random() < 0.5:
            c.returned_on = (c.opened + timedelta(days=rng.randrange(2, 12))).date()
            feed.deliver(CaseReturnedV1(case_id=c.case_id, student_id=student, township_code=c.township,
                                        source="school_confirmation", returned_on=c.returned_on,
                                        follow_up_until=c.returned_on + timedelta(days=30)),
                         subject=c.case_id, at=at + timedelta(minutes=5))
        elif c.outcome == "dropout" and rng.random() < 0.6:
            c.overdue = True
            due = at + timedelta(days=1)
            feed.deliver(CaseEscalatedV1(case_id=c.case_id, student_id=student, township_code=c.township,
                                         step="return_notice", issued_at=at, deadline_at=due, overridden=False,
                                         automatic=False), subject=c.case_id, at=at)
            feed.deliver(CaseDeadlinePassedV1(case_id=c.case_id, township_code=c.township, timer_id=str(uuid.uuid4()),
                                              kind="ladder", step="return_notice", due_at=due, action="alert"),
                         subject=c.case_id, at=due)
        cases.append(c)
    findings = []  # (township, acted on)
    for i, township in enumerate((T1, T1, T1, T2, T2)):
        finding, student = str(uuid.uuid4()), str(uuid.uuid4())
        at = OCT + timedelta(days=3 + i)
        feed.deliver(OutOfSchoolChildIdentifiedV1(finding_id=finding, student_id=student, township_code=township,
                                                  reason_code="no_registration", episode="2025", name_masked="李*",
                                                  id_number_masked="520102********0000"), at=at)
        acted = i % 3
        if acted == 1:  # casework opened a case from it
            c = Case(str(uuid.uuid4()), township, None, at + timedelta(hours=1), trigger=finding)
            feed.deliver(CaseOpenedV1(case_id=c.case_id, student_id=student, school_id=None, township_code=township,
                                      source="census", trigger_id=finding, opened_at=c.opened),
                         subject=c.case_id, at=c.opened)
            cases.append(c)
        elif acted == 2:
            feed.deliver(OutOfSchoolChildRetractedV1(finding_id=finding, student_id=student, township_code=township,
                                                     reason_code="registered"), at=at + timedelta(hours=1))
        findings.append((township, acted != 0))
    enrolled = {s: n for s, n in zip(schools, (40, 30, 25))}
    return {"schools": schools, "cases": cases, "findings": findings, "enrolled": enrolled}


BEFORE = OCT - timedelta(days=20)


def _school(feed, township: str, name: str) -> str:
    school_id = str(uuid.uuid4())
    feed.deliver(SchoolRegisteredV1(school_id=school_id, code=school_id[:8], name=name, level="primary",
                                    county_code=township[:6], township_code=township), at=BEFORE)
    return school_id


def _student(feed, school_id: str, township: str) -> str:
    student_id = str(uuid.uuid4())
    feed.deliver(StudentEnrolledV1(student_id=student_id, school_id=school_id, county_code=township[:6],
                                   township_code=township, grade=3, class_name="3(1)班", name_masked="张*",
                                   id_number_masked=township[:6] + "********1234"), at=BEFORE)
    return student_id


def expected(seed, code: str, school: str | None = None) -> dict:
    """The figures counted straight from the seeded facts (no reporting code involved)."""
    mine = [c for c in seed["cases"] if c.township.startswith(code) and (school is None or c.school == school)]
    enrolled = sum(n for s, n in seed["enrolled"].items()
                   if seed["schools"][s].startswith(code) and (school is None or s == school))
    confirmed = [c for c in mine if c.outcome == "dropout" and c.returned_on is None]
    returned = [c for c in mine if c.returned_on is not None]
    open_ = [c for c in mine if c.outcome != "not_dropout"]
    comps = [a for t, a in seed["findings"] if t.startswith(code)] if school is None else []
    days = [(c.returned_on - c.opened.astimezone(timezone(timedelta(hours=8))).date()).days for c in returned]
    return {
        "dropout_rate": (len(confirmed) / enrolled if enrolled else None, sorted(c.case_id for c in confirmed)),
        "return_rate": ((len(returned) / (len(returned) + len(confirmed))) if returned or confirmed else None,
                        sorted(c.case_id for c in returned + confirmed)),
        "median_days_to_return": (statistics.median(days) if days else None, sorted(c.case_id for c in returned)),
        "overdue_deadlines": (sum(c.overdue for c in confirmed), sorted(c.case_id for c in confirmed if c.overdue)),
        "unowned_cases": (sum(not (c.gov and c.edu) for c in open_),
                          sorted(c.case_id for c in open_ if not (c.gov and c.edu))),
        "comparisons_acted_on": (sum(comps) / len(comps) if comps else None, None),
    }


def test_every_figure_equals_an_independent_count_of_the_seeded_facts(client, seeded):
    card = client.get(f"/v1/scorecards/{COUNTY}", params={"period": "2025-10"}, headers=COUNTY_OFFICER)
    assert card.status_code == 200, card.text
    body = card.json()
    units = [(COUNTY, None), (T1, None), (T2, None), *((t, s) for s, t in seeded["schools"].items())]
    ranking = {(u["code"], u["school_id"]): u for u in body["ranking"]}
    assert set(ranking) == {(T1, None), (T2, None)} and body["ranking_level"] == "township"
    for code, school in units:
        if school is None and code != COUNTY:
            got = ranking[(code, None)]
        elif school is None:
            got = body
        else:
            got = client.get(f"/v1/scorecards/{code}/schools/{school}", params={"period": "2025-10"},
                             headers=COUNTY_OFFICER).json()
        for name, (value, ids) in expected(seeded, code, school).items():
            fig = got["figures"][name]
            assert fig["value"] == (round(value, 6) if isinstance(value, float) and name != "median_days_to_return"
                                    else value), (code, school, name)
            if ids is not None:
                assert fig["cases"] == ids, (code, school, name)
                assert bool(fig["positions"]) == bool(ids)
        scores = [got["figures"][k]["score"] * w for k, w in got["weights"].items()]
        assert got["score"] == round(sum(scores) / sum(got["weights"].values()), 2)
    ordered = sorted(body["ranking"], key=lambda u: -u["score"])
    assert [u["rank"] for u in body["ranking"]] == sorted(u["rank"] for u in body["ranking"])
    assert body["ranking"][0]["score"] == ordered[0]["score"] and body["positions"]["partitions"]

    township = client.get(f"/v1/scorecards/{T1}", params={"period": "2025-10"}, headers=COUNTY_OFFICER).json()
    assert (township["rank"], township["ranked"]) == (ranking[(T1, None)]["rank"], 2)  # among its sibling townships
    assert {u["school_id"] for u in township["ranking"]} == {s for s, t in seeded["schools"].items() if t == T1}
    alone = client.get(f"/v1/scorecards/{T1}", params={"period": "2025-10"}, headers=auth("township_officer", T1))
    assert alone.json()["ranked"] == 1  # a township officer does not see the other township

    # drill-down: the cases behind a figure are the ledger rows of exactly those cases, with their positions
    behind = client.get(f"/v1/scorecards/{COUNTY}/cases", params={"period": "2025-10", "figure": "unowned_cases"},
                        headers=COUNTY_OFFICER).json()
    assert [r["case_id"] for r in behind["items"]] == sorted(
        expected(seeded, COUNTY)["unowned_cases"][1], key=lambda i: [r["case_id"] for r in behind["items"]].index(i))
    assert all(r["last_sequence"] > 0 and "name_masked" not in r for r in behind["items"])
    findings = client.get(f"/v1/scorecards/{COUNTY}/cases",
                          params={"period": "2025-10", "figure": "comparisons_acted_on"}, headers=COUNTY_OFFICER).json()
    assert len(findings["items"]) == sum(not a for _, a in seeded["findings"]) and findings["kind"] == "findings"


def test_as_of_a_day_shows_what_was_known_then(client, seeded):
    early = client.get(f"/v1/scorecards/{COUNTY}", params={"period": "2025-10", "as_of": "2025-10-05"},
                       headers=COUNTY_OFFICER).json()
    known = {c.case_id for c in seeded["cases"] if c.opened < datetime(2025, 10, 5, 16, 0, tzinfo=timezone.utc)}
    everything = set(early["figures"]["unowned_cases"]["cases"]) | set(early["figures"]["return_rate"]["cases"])
    assert everything <= known and early["as_of"] == "2025-10-05"


def test_weights_and_targets_are_versioned_per_jurisdiction(client, seeded):
    prefecture = auth("prefecture_officer", "5201")
    body = {"effective_from": "2025-10-15", "weights": {k: 0 for k in (
        "return_rate", "median_days_to_return", "overdue_deadlines", "unowned_cases", "report_on_time",
        "comparisons_acted_on")} | {"dropout_rate": 100}, "targets": {"dropout_rate": 0.05}}
    first = client.put("/v1/scorecards/config/5201", json=body, headers=prefecture)
    assert first.status_code == 201 and first.json()["version"] == 1
    again = client.put("/v1/scorecards/config/5201", json=body, headers=prefecture)
    assert again.status_code == 200 and again.json()["created"] is False  # a repeated request writes nothing
    card = client.get(f"/v1/scorecards/{COUNTY}", params={"period": "2025-10"}, headers=COUNTY_OFFICER).json()
    assert card["config_version"] == "5201@1" and card["score"] == card["figures"]["dropout_rate"]["score"]
    assert card["figures"]["dropout_rate"]["target"] == 0.05
    before = client.get(f"/v1/scorecards/{COUNTY}", params={"period": "2025-10", "as_of": "2025-10-14"},
                        headers=COUNTY_OFFICER).json()
    assert before["config_version"] == "default"
    shown = client.get("/v1/scorecards/config/520102", params={"on": "2025-10-20"}, headers=COUNTY_OFFICER).json()
    assert shown["weights"]["dropout_rate"] == 100 and len(shown["history"]) == 1

    bad = client.put("/v1/scorecards/config/5201", json={**body, "weights": {"speed": 5}}, headers=prefecture)
    assert bad.status_code == 422 and bad.json()["detail"]["rule"] == "weights.speed"
    assert client.put("/v1/scorecards/config/5202", json=body, headers=prefecture).status_code == 403
    assert client.put("/v1/scorecards/config/5201", json=body, headers=COUNTY_OFFICER).status_code == 403
    assert client.get("/v1/scorecards/config/5201", headers=COUNTY_OFFICER).status_code == 403


def test_outside_the_jurisdiction_is_refused(client, seeded):
    other = auth("county_officer", "520103")
    for path in (f"/v1/scorecards/{COUNTY}", f"/v1/scorecards/{COUNTY}/cases", f"/v1/scorecards/{T1}"):
        r = client.get(path, params={"period": "2025-10", "figure": "unowned_cases"}, headers=other)
        assert r.status_code == 403, path
    school, township = next(iter(seeded["schools"].items()))
    assert client.get(f"/v1/scorecards/{township}/schools/{school}", params={"period": "2025-10"},
                      headers=other).status_code == 403
    assert client.get(f"/v1/scorecards/{COUNTY}", params={"period": "2025-13"}, headers=COUNTY_OFFICER).status_code == 422
    r = client.get(f"/v1/scorecards/{COUNTY}/cases", params={"period": "2025-10", "figure": "speed"},
                   headers=COUNTY_OFFICER)
    assert r.status_code == 422 and r.json()["detail"]["rule"] == "figure"


def test_a_late_monthly_report_is_flagged_and_published_for_notifications(stack, client, seeded):
    _, clock, reports, cards = stack
    assert client.post("/v1/reports/seal", params={"month": "2025-10"}, headers=ADMIN).json()["sealed"] == 8  # province, prefecture, county, 2 townships, 3 schools
    items = client.get("/v1/reports", params={"month": "2025-10"}, headers=ADMIN).json()["items"]
    by_code = {(r["code"], r["school_id"]): r for r in items}
    clock.set(datetime(2025, 11, 3, 2, 0, tzinfo=timezone.utc))
    assert reports.chase("2025-10", clock.today()) == {"reminded": 8, "overdue": 0}
    assert reports.chase("2025-10", clock.today()) == {"reminded": 0, "overdue": 0}  # one reminder per due day
    t1 = by_code[(T1, None)]
    assert client.post(f"/v1/reports/{t1['report_id']}/submit", headers=auth("township_officer", T1)).status_code == 200
    clock.set(datetime(2025, 11, 6, 2, 0, tzinfo=timezone.utc))
    assert reports.chase("2025-10", clock.today()) == {"reminded": 0, "overdue": 7}
    assert reports.chase("2025-10", clock.today())["overdue"] == 0

    card = client.get(f"/v1/scorecards/{COUNTY}", params={"period": "2025-10"}, headers=COUNTY_OFFICER).json()
    ranking = {u["code"]: u for u in card["ranking"]}
    assert ranking[T1]["figures"]["report_on_time"]["value"] == 1.0
    assert ranking[T2]["figures"]["report_on_time"]["value"] == 0.0 and ranking[T2]["figures"]["report_on_time"]["late"] == 1

    facts = facts_from(reports.app)
    published = [to_contract(n_event, facts) for n_event in _events(reports.app)]
    overdue = [p for p in published if isinstance(p, MonthlyReportOverdueV1)]
    assert {(p.code, p.parent_code) for p in overdue if p.school_id is None} >= {(T2, COUNTY), (COUNTY, "5201")}
    assert len([p for p in published if isinstance(p, MonthlyReportDueV1)]) == 8
    [submitted] = [p for p in published if isinstance(p, MonthlyReportSubmittedV1)]
    assert submitted.on_time and submitted.code == T1
    assert all("name" not in p.model_dump() for p in published if p is not None)

    # the day after the due day the scorecards are published once, ranked per level; the index rebuild skips them
    assert cards.publish("2025-10") == 8 and cards.publish("2025-10") == 0
    cards_published = [p for p in (to_contract(e, facts) for e in _events(reports.app))
                       if isinstance(p, ScorecardPublishedV1)]
    townships = sorted((p.rank, p.code) for p in cards_published if p.level == "township")
    assert [r for r, _ in townships] in ([1, 2], [1, 1]) and {p.ranked for p in cards_published if p.level == "school"} == {3}
    assert reports.rebuild_index() == 8


def _events(app):
    start = 1
    while True:
        page = app.recorder.select_notifications(start=start, limit=500)
        for n in page:
            yield app.mapper.to_domain_event(n)
        if len(page) < 500:
            return
        start = page[-1].id + 1


def test_the_notice_lists_units_from_the_scorecards(client, seeded):
    """通报 from scorecards: the townships below target, vetoed (一票否决: dropout rate above target) and the bottom
    of the ranking, each against an independent count of the seeded facts; printed in Chinese."""
    import io

    import pypdf

    got = client.get("/v1/inspections/notice", params={"period": "2025-10"}, headers=COUNTY_OFFICER)
    assert got.status_code == 200, got.text
    cards = got.json()["scorecards"]
    assert (cards["ranking_level"], cards["ranked"]) == ("township", 2)

    def misses(township: str) -> set[str]:
        e = expected(seeded, township)
        out = set()
        if e["dropout_rate"][0] is not None and e["dropout_rate"][0] > 0.01:
            out.add("dropout_rate")
        if e["return_rate"][0] is not None and e["return_rate"][0] < 1.0:
            out.add("return_rate")
        return out

    below = {u["code"]: {f["figure"] for f in u["figures"]} - {"report_on_time"} for u in cards["below_target"]}
    assert below == {t: misses(t) for t in (T1, T2) if misses(t)}
    assert {u["code"] for u in cards["vetoed"]} == {t for t in (T1, T2) if "dropout_rate" in misses(t)}
    ranking = client.get(f"/v1/scorecards/{COUNTY}", params={"period": "2025-10"}, headers=COUNTY_OFFICER).json()
    scores = {u["code"]: u["score"] for u in ranking["ranking"]}
    lowest = min(scores.values())
    want_bottom = set() if len(set(scores.values())) == 1 else {c for c, s in scores.items() if s == lowest}
    assert {u["code"] for u in cards["bottom"]} == want_bottom

    assert "scorecards" in got.json() and client.get(
        "/v1/inspections/notice", headers=COUNTY_OFFICER).json()["scorecards"] is None  # findings only
    assert client.get("/v1/inspections/notice", params={"period": "2025-13"},
                      headers=COUNTY_OFFICER).status_code == 422
    for who in (ADMIN, auth("township_officer", T1), auth("school_staff", T1, schools=[next(iter(seeded["schools"]))]),
                auth("province_officer", "52")):  # every reader gets its own level's lists (or none), never an error
        other = client.get("/v1/inspections/notice", params={"period": "2025-autumn"}, headers=who)
        assert other.status_code == 200 and set(other.json()["scorecards"]) >= {"bottom", "below_target", "vetoed"}
    pdf = client.get("/v1/inspections/notice", params={"period": "2025-10", "format": "pdf"}, headers=COUNTY_OFFICER)
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages).replace("\n", "")
    assert "考核通报" in text and "一票否决单位" in text and "考核排名靠后单位" in text and "考核指标未达目标单位" in text


def test_notice_rules_refuse_unknown_figures():
    from services.reporting.domain.scorecards import NoticeRules

    assert NoticeRules.of({"bottom": 1, "vetoes": ["unowned_cases"]}).vetoes == ("unowned_cases",)
    for bad in ({"vetoes": ["nonsense"]}, {"bottom": -1}, {"other": 1}):
        with pytest.raises(ValueError):
            NoticeRules.of(bad)
