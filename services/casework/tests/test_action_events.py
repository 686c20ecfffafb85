"""Every case action is a public event (issue 12): work records and each legal step map to their own contract,
free text stays inside casework, and history stored before the change still replays and publishes."""

import dataclasses
from datetime import date, timedelta

import pytest

from contracts.events.casework import (
    CaseEscalatedV1,
    CaseOwnersReassignedV1,
    CasePlanSetV1,
    CourtReferralMadeV1,
    HelpProvidedV1,
    HomeVisitRecordedV1,
    PersuasionAttemptedV1,
    ReturnNoticeIssuedV1,
)
from services.casework.adapters.publishing import facts_from, to_contract
from services.casework.application import CaseworkApp
from services.casework.domain import InvalidInput
from services.casework.tests.builders import MONDAY, acting, opened_case, proof
from services.runtime.testing import in_memory

FREE_TEXT = ("孩子在家玩手机", "张老师", "讲明义务教育法", "数学老师结对辅导", "补课", "父亲（王某）", "工作调动")


@pytest.fixture
def app() -> CaseworkApp:
    return in_memory(CaseworkApp)


def published(app: CaseworkApp) -> list:
    facts = facts_from(app)
    found = (to_contract(app.mapper.to_domain_event(n), facts)
             for n in app.recorder.select_notifications(start=1, limit=10_000))
    return [c for c in found if c is not None]


def worked_case(app: CaseworkApp):
    case = opened_case(app)
    cadre = acting("village_cadre", MONDAY + timedelta(days=1), "cadre-3")
    app.cases.act(case.id, "confirm_dropout", causes=["working_away"], cause_analysis="随父外出打工", meta=cadre)
    app.cases.act(case.id, "record_home_visit", record_id="v1", visited_at=MONDAY, visitors=["张老师", "村干部"],
                  met=["学生", "母亲"], findings="孩子在家玩手机", evidence=[proof()], meta=cadre)
    app.cases.act(case.id, "record_persuasion", record_id="p1", method="home_visit", outcome="refused",
                  note="讲明义务教育法", persuaders=["ht-7", "cadre-3"], place="home", with_whom=["father", "child"],
                  meta=cadre)
    app.cases.act(case.id, "record_help", record_id="h1", help_type="home_teaching", detail="数学老师结对辅导",
                  amount_yuan=None, meta=cadre)
    app.cases.act(case.id, "record_help", record_id="h2", help_type="boarding_subsidy", detail="补课",
                  amount_yuan=500.0, meta=cadre)
    app.cases.act(case.id, "record_plan", record_id="plan1", measures=["补课", "每周家访"],
                  target_return_on=date(2025, 10, 8), meta=cadre)
    app.cases.act(case.id, "record_plan", record_id="plan2", measures=["补课"], target_return_on=None, meta=cadre)
    app.cases.take_legal_step(case.id, step="return_notice", document_no="复学通知〔2025〕12号",
                              addressee="父亲（王某）", deadline=date(2025, 9, 22), evidence=[proof("signed_notice")],
                              override_reason=None, meta=acting("school_staff", MONDAY + timedelta(days=1), "ht-7"))
    app.cases.act(case.id, "reassign_owner", slot="head_teacher", user_id="ht-9", name="李老师", reason="工作调动",
                  meta=acting("school_leader", MONDAY + timedelta(days=2), "lead-1"))
    return case


def test_work_records_publish_their_own_contracts_with_codes_and_counts(app):
    case = worked_case(app)
    contracts = published(app)
    visit = next(c for c in contracts if isinstance(c, HomeVisitRecordedV1))
    assert (visit.case_id, visit.record_id, visit.visitor_count, visit.met_count, visit.evidence_count,
            visit.recorded_by) == (str(case.id), "v1", 2, 2, 1, "cadre-3")
    persuasion = next(c for c in contracts if isinstance(c, PersuasionAttemptedV1))
    assert (persuasion.outcome, persuasion.method, persuasion.place, persuasion.with_whom, persuasion.persuaders) == (
        "refused", "home_visit", "home", ["child", "father"], ["cadre-3", "ht-7"])
    assert [(c.kind, c.category, c.amount_yuan) for c in contracts if isinstance(c, HelpProvidedV1)] == [
        ("home_teaching", "home_teaching", None), ("boarding_subsidy", "boarding", 500.0)]
    assert [(c.plan_version, c.measure_count, c.target_return_on) for c in contracts
            if isinstance(c, CasePlanSetV1)] == [(1, 2, date(2025, 10, 8)), (2, 1, None)]
    notice = next(c for c in contracts if isinstance(c, ReturnNoticeIssuedV1))
    assert (notice.document_no, notice.deadline_at, notice.issued_by, notice.evidence_count) == (
        "复学通知〔2025〕12号", app.cases.policy.end_of_day(date(2025, 9, 22)), "ht-7", 1)
    moved = next(c for c in contracts if isinstance(c, CaseOwnersReassignedV1))
    assert (moved.slot, moved.line, moved.user_id, moved.previous_user_id, moved.reassigned_by) == (
        "head_teacher", "education", "ht-9", None, "lead-1")
    assert not any(isinstance(c, CaseEscalatedV1) for c in contracts)


def test_no_free_text_of_a_work_record_leaves_casework(app):
    worked_case(app)
    for contract in published(app):
        text = contract.model_dump_json()
        assert not [t for t in FREE_TEXT if t in text], type(contract).__name__


def test_each_legal_step_is_its_own_domain_event(app):
    case = worked_case(app)
    app.cases.take_legal_step(case.id, step="court_referral", document_no="提请〔2025〕2号", addressee="父亲",
                              deadline=None, evidence=[], override_reason="父亲明确拒绝，直接提请",
                              meta=acting("county_officer", MONDAY + timedelta(days=3), "bureau-1"))
    names = [h.event for h in app.queries.case_history(case.id)]
    assert "ReturnNoticeIssued" in names and "CourtReferralMade" in names and "LegalStepTaken" not in names
    court = next(c for c in published(app) if isinstance(c, CourtReferralMadeV1))
    assert court.deadline_at is None and court.overridden and court.issued_by == "bureau-1"
    assert app.queries.case(case.id).ladder["court_referral"]["document_no"] == "提请〔2025〕2号"


def test_a_legal_step_stored_before_issue_12_still_replays_and_publishes_the_generic_contract(app):
    case = opened_case(app)
    app.cases.act(case.id, "confirm_dropout", causes=["poverty"], cause_analysis="家庭困难",
                  meta=acting("village_cadre", MONDAY))
    stored = app.repository.get(case.id)
    deadline = MONDAY + timedelta(days=7)
    stored._legal_step_taken(step="return_notice", document_no="旧〔2024〕1号", addressee="父亲", deadline_at=deadline,
                             timer=None, override=None, automatic=False, evidence=[], cancelled_timers=[],
                             meta=acting("school_staff", MONDAY))
    app.save(stored)
    replayed = app.queries.case(case.id)
    assert replayed.stage == "escalated" and replayed.ladder["return_notice"]["document_no"] == "旧〔2024〕1号"
    old = [c for c in published(app) if isinstance(c, CaseEscalatedV1)]
    assert [(c.step, c.deadline_at) for c in old] == [("return_notice", deadline)]


def test_bad_codes_of_a_persuasion_name_the_field_and_write_nothing(app):
    case = opened_case(app)
    cadre = acting("village_cadre", MONDAY)
    app.cases.act(case.id, "confirm_dropout", causes=["poverty"], cause_analysis="家庭困难", meta=cadre)
    before = app.queries.case(case.id).version
    for kwargs, rule in (({"place": "moon"}, "persuasion.place"), ({"with_whom": ["cousin"]}, "persuasion.with_whom"),
                         ({"persuaders": ["x" * 129]}, "persuasion.persuaders")):
        with pytest.raises(InvalidInput) as bad:
            app.cases.act(case.id, "record_persuasion", record_id="p9", method="phone", outcome="refused",
                          note="电话", meta=cadre, **kwargs)
        assert bad.value.rule == rule
    assert app.queries.case(case.id).version == before


def test_work_records_stored_before_issue_12_without_the_new_fields_still_replay_and_publish(app):
    case = opened_case(app)
    cadre = acting("village_cadre", MONDAY, "u1")
    app.cases.act(case.id, "confirm_dropout", causes=["poverty"], cause_analysis="家庭困难", meta=cadre)
    app.cases.act(case.id, "record_persuasion", record_id="p1", method="phone", outcome="refused", note="电话",
                  meta=cadre)
    app.cases.act(case.id, "record_plan", record_id="plan1", measures=["补课"], target_return_on=None, meta=cadre)
    facts = facts_from(app)
    seen = []
    for stored in app.recorder.select_notifications(start=1, limit=100):
        if not stored.topic.endswith(("PersuasionAttempted", "PlanRecorded")):
            continue
        state = app.mapper.transcoder.decode(stored.state)
        for field in ("persuaders", "place", "with_whom", "plan_version"):  # what older events lack
            state.pop(field, None)
        old = app.mapper.to_domain_event(dataclasses.replace(stored, state=app.mapper.transcoder.encode(state)))
        replayed = app.repository.get(case.id, version=old.originator_version - 1)
        old.mutate(replayed)
        seen.append((to_contract(old, facts), replayed.records[-1]["kind"]))
    (persuasion, kind_p), (plan, kind_plan) = seen
    assert (persuasion.persuaders, persuasion.place, persuasion.with_whom, kind_p) == (["u1"], None, [], "persuasion")
    assert (plan.plan_version, kind_plan) == (1, "plan")
