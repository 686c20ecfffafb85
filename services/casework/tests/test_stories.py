"""Stories of a case from suspicion to 销号, told against the application in memory."""

from datetime import date, datetime, timedelta
from functools import partial

import pytest

from contracts.events.casework import (
    CaseClosedV1,
    CaseDeadlinePassedV1,
    CaseEscalatedV1,
    CaseRelapsedV1,
    CorrectionOrderIssuedV1,
    LegalDocumentsIssuedV1,
    PersuasionAttemptedV1,
    ReturnNoticeIssuedV1,
)
from services.casework.adapters.publishing import facts_from, to_contract
from services.casework.application import CaseworkApp
from services.casework.application.deadlines import IdleGate, tick
from services.casework.domain import Conflict, Forbidden
from services.casework.domain.policy import CasePolicy
from services.casework.tests.builders import (
    MONDAY,
    acting,
    deliver,
    opened_case,
    proof,
    resumed,
)
from services.casework.tests.stories import detection
from services.runtime.clock import FixedClock
from services.runtime.testing import in_memory


@pytest.fixture
def app() -> CaseworkApp:
    return in_memory(CaseworkApp)


def with_policy(policy: CasePolicy) -> CaseworkApp:
    """The application with other configured rules, given to its constructor as the bootstrap does."""
    return in_memory(partial(CaseworkApp, policy=policy))  # type: ignore[arg-type]


def published(app: CaseworkApp) -> list:
    facts = facts_from(app)
    found = (to_contract(app.mapper.to_domain_event(n), facts)
             for n in app.recorder.select_notifications(start=1, limit=10_000))
    return [c for c in found if c is not None]


def days(n: int) -> timedelta:
    return timedelta(days=n)


def test_persuasion_works_at_the_first_visit_and_the_case_closes_after_follow_up(app):
    case = opened_case(app)
    teacher = acting("head_teacher", MONDAY + days(1), "ht-7")
    app.cases.act(case.id, "start_verification", meta=teacher)
    app.cases.act(case.id, "confirm_dropout", causes=["learning_difficulty"], cause_analysis="数学跟不上，厌学在家",
            meta=teacher)
    app.cases.act(case.id, "record_home_visit", record_id="v1", visited_at=MONDAY + days(1), visitors=["ht-7", "cadre-3"],
            met=["学生", "母亲"], findings="孩子在家玩手机，母亲支持返校", evidence=[proof()], meta=teacher)
    app.cases.act(case.id, "record_persuasion", record_id="p1", method="home_visit", outcome="agreed_to_return",
            note="讲明义务教育法，约定周四返校", meta=teacher)
    app.cases.act(case.id, "record_help", record_id="h1", help_type="pairing", detail="数学老师结对辅导", amount_yuan=None,
            meta=teacher)
    back = app.cases.confirm_return(case.id, date(2025, 9, 18), [], acting("school_staff", MONDAY + days(3)))
    assert back.stage == "returned" and back.returned["follow_up_until"] == date(2025, 10, 18)

    with pytest.raises(Conflict) as early:
        app.cases.close_case(case.id, reason="returned", evidence=[proof("document", "复学登记表")], note="已复学",
                       meta=acting("school_staff", MONDAY + days(10)))
    assert early.value.rule == "closure.follow_up_period"

    closed = app.cases.close_case(case.id, reason="returned", evidence=[proof("document", "复学登记表")], note="稳定在校",
                            meta=acting("school_staff", datetime(2025, 10, 18, 9, tzinfo=MONDAY.tzinfo)))
    assert closed.stage == "closed" and closed.closure["reason"] == "returned"
    assert [r["kind"] for r in closed.records] == ["home_visit", "persuasion", "help"]
    assert [type(c).__name__ for c in published(app)][-1] == "CaseClosedV1"


def test_persuasion_fails_and_the_legal_ladder_runs_until_the_child_returns():
    app = with_policy(CasePolicy(closure_approval_prefixes=("520102",)))
    clock = FixedClock(MONDAY)
    case = opened_case(app)
    cadre = acting("village_cadre", MONDAY, "cadre-3")
    app.cases.act(case.id, "confirm_dropout", causes=["working_away"], cause_analysis="随父外出打工", meta=cadre)
    app.cases.act(case.id, "record_persuasion", record_id="p1", method="phone", outcome="refused", note="父亲拒绝",
            meta=cadre)

    notice = app.cases.take_legal_step(case.id, step="return_notice", document_no="复学通知〔2025〕12号", addressee="父亲",
                                 deadline=date(2025, 9, 22), evidence=[proof("signed_notice", "签收回执")],
                                 override_reason=None, meta=acting("school_staff", MONDAY))
    assert notice.stage == "escalated"
    assert tick(app, clock) == 0  # not due yet

    clock.set(datetime(2025, 9, 23, 0, 5, tzinfo=MONDAY.tzinfo))  # the notice's last day has passed
    assert tick(app, clock) == 1
    assert tick(app, clock) == 0  # fired once
    overdue = app.queries.case(case.id)
    assert [t["status"] for t in overdue.timers.values()] == ["fired"]

    app.cases.take_legal_step(case.id, step="correction_order", document_no="责改〔2025〕3号", addressee="父亲",
                        deadline=date(2025, 10, 8), evidence=[], override_reason=None,
                        meta=acting("township_officer", clock.now()))
    clock.set(datetime(2025, 10, 9, 1, tzinfo=MONDAY.tzinfo))
    assert tick(app, clock) == 1
    app.cases.take_legal_step(case.id, step="legal_documents", document_no="司法〔2025〕1号", addressee="父亲",
                        deadline=date(2025, 10, 30), evidence=[], override_reason=None,
                        meta=acting("justice_officer", clock.now()))

    deliver(app, resumed(app.queries.case(case.id), date(2025, 10, 13)))
    back = app.queries.case(case.id)
    assert back.stage == "returned"
    assert sorted(t["status"] for t in back.timers.values()) == ["cancelled", "fired", "fired", "pending"]

    clock.set(datetime(2025, 11, 13, 0, 1, tzinfo=MONDAY.tzinfo))  # 30 days of follow-up are over
    assert tick(app, clock) == 1
    asked = app.cases.close_case(case.id, reason="returned", evidence=[proof("document", "复学证明")], note="稳定在校",
                           meta=acting("school_staff", clock.now()))
    assert asked.stage == "closure_pending"
    with pytest.raises(Forbidden) as refused:
        app.cases.act(case.id, "decide_closure", approve=True, comment="", meta=acting("township_officer", clock.now()))
    assert refused.value.rule == "closure.approver_role"
    done = app.cases.act(case.id, "decide_closure", approve=True, comment="同意销号",
                   meta=acting("county_officer", clock.now(), "bureau-1"))
    assert done.stage == "closed" and done.closure["approved_by"] == "bureau-1"

    contracts = published(app)
    assert not [c for c in contracts if isinstance(c, CaseEscalatedV1)]  # one specific contract per step now
    steps = [c for c in contracts if isinstance(c, (ReturnNoticeIssuedV1, CorrectionOrderIssuedV1,
                                                     LegalDocumentsIssuedV1))]
    end = app.cases.policy.end_of_day
    assert [(type(c).__name__, c.document_no, c.deadline_at) for c in steps] == [
        ("ReturnNoticeIssuedV1", "复学通知〔2025〕12号", end(date(2025, 9, 22))),
        ("CorrectionOrderIssuedV1", "责改〔2025〕3号", end(date(2025, 10, 8))),
        ("LegalDocumentsIssuedV1", "司法〔2025〕1号", end(date(2025, 10, 30)))]
    assert steps[0].evidence_count == 1 and not steps[0].automatic
    assert [(c.outcome, c.persuaders) for c in contracts if isinstance(c, PersuasionAttemptedV1)] == [
        ("refused", ["cadre-3"])]
    assert [c.kind for c in contracts if isinstance(c, CaseDeadlinePassedV1)] == ["ladder", "ladder", "follow_up"]
    assert [c.approved_by for c in contracts if isinstance(c, CaseClosedV1)] == ["bureau-1"]


def test_verification_finds_the_child_studying_in_another_province(app):
    case = opened_case(app)
    officer = acting("township_officer", MONDAY + days(2))
    with pytest.raises(Exception) as no_proof:
        app.cases.act(case.id, "conclude_not_dropout", reason="in_school_elsewhere", finding="随父母在浙江就读",
                evidence=[], meta=officer)
    assert no_proof.value.rule == "verification.evidence_required"
    verified = app.cases.act(case.id, "conclude_not_dropout", reason="in_school_elsewhere",
                       finding="随父母在浙江省义乌市某小学就读", evidence=[proof("enrolment_proof", "在读证明")],
                       meta=officer)
    assert verified.stage == "not_dropout"
    with pytest.raises(Conflict) as wrong:
        app.cases.close_case(case.id, reason="moved", evidence=[proof("enrolment_proof", "在读证明")], note="",
                       meta=officer)
    assert wrong.value.rule == "closure.reason_matches_verification"
    closed = app.cases.close_case(case.id, reason="in_school_elsewhere", evidence=[proof("enrolment_proof", "在读证明")],
                            note="异地就读，学籍随迁", meta=officer)
    assert closed.stage == "closed"
    [verdict] = [c for c in published(app) if type(c).__name__ == "CaseVerifiedV1"]
    assert (verdict.outcome, verdict.reason) == ("not_dropout", "in_school_elsewhere")


def test_a_relapse_after_closure_reopens_the_same_case(app):
    case = opened_case(app, student_id="s-relapse")
    app.cases.act(case.id, "confirm_dropout", causes=["family"], cause_analysis="父母离异", meta=acting("head_teacher", MONDAY))
    deliver(app, resumed(case, date(2025, 9, 17)))
    end = datetime(2025, 10, 17, 10, tzinfo=MONDAY.tzinfo)
    app.cases.close_case(case.id, reason="returned", evidence=[proof("document")], note="", meta=acting("school_staff", end))

    again = detection("s-relapse", "520102001")
    deliver(app, again, end + days(20))
    reopened = app.queries.case(case.id)
    assert (reopened.stage, reopened.relapses) == ("persuading", 1)
    assert reopened.trigger_ids[-1] == again.detection_id
    assert len(app.queries.cases_for_jurisdiction("520102")) == 1  # still one case for the child (一人一案)
    [relapse] = [c for c in published(app) if isinstance(c, CaseRelapsedV1)]
    assert relapse.reopened is True


def test_a_new_absence_during_follow_up_is_a_relapse_and_stops_the_follow_up(app):
    case = opened_case(app, student_id="s-follow")
    app.cases.act(case.id, "confirm_dropout", causes=["poverty"], cause_analysis="家庭困难", meta=acting("head_teacher", MONDAY))
    deliver(app, resumed(case, date(2025, 9, 17)))
    deliver(app, detection("s-follow", "520102001"), MONDAY + days(14))
    relapsed = app.queries.case(case.id)
    assert relapsed.stage == "persuading" and relapsed.returned is None
    assert [t["status"] for t in relapsed.timers.values()] == ["cancelled"]


def test_the_stage_machine_refuses_forbidden_transitions_by_rule(app):
    case = opened_case(app)
    school = acting("school_staff", MONDAY)
    with pytest.raises(Conflict) as notice_first:
        app.cases.take_legal_step(case.id, step="return_notice", document_no="n", addressee="父亲", deadline=None,
                            evidence=[], override_reason=None, meta=school)
    assert notice_first.value.rule == "stage.take_legal_step"
    with pytest.raises(Conflict) as close_first:
        app.cases.close_case(case.id, reason="returned", evidence=[proof()], note="", meta=school)
    assert close_first.value.rule == "stage.close_returned"
    app.cases.act(case.id, "confirm_dropout", causes=["other"], cause_analysis="不明", meta=school)
    with pytest.raises(Conflict) as twice:
        app.cases.act(case.id, "confirm_dropout", causes=["other"], cause_analysis="不明", meta=school)
    assert twice.value.rule == "stage.confirm_dropout"


def test_a_quiet_scheduler_passes_only_when_an_event_came_or_the_clock_reached_a_pending_timer(app):
    clock = FixedClock(MONDAY)
    gate = IdleGate(full_pass_s=3600)

    def tick_if_due() -> int | None:
        latest = gate.due(app, clock.now())
        if latest is None:
            return None
        fired = tick(app, clock)
        gate.passed(app, latest)
        return fired

    assert tick_if_due() == 0  # the first tick always looks
    assert tick_if_due() is None  # nothing new, nothing pending
    case = opened_case(app)
    app.cases.act(case.id, "confirm_dropout", causes=["working_away"], cause_analysis="外出", meta=acting("head_teacher", MONDAY))
    app.cases.take_legal_step(case.id, step="return_notice", document_no="复学通知〔2025〕9号", addressee="父亲",
                        deadline=date(2025, 9, 22), evidence=[], override_reason=None, meta=acting("school_staff", MONDAY))
    assert tick_if_due() == 0  # new events: a look, the notice's timer is not due yet
    assert tick_if_due() is None
    clock.set(datetime(2025, 9, 23, 0, 5, tzinfo=MONDAY.tzinfo))  # a simulated clock jumps past the deadline
    assert tick_if_due() == 1
    assert tick_if_due() == 0  # the DeadlinePassed event is new: one more look, nothing left
    assert tick_if_due() is None


def test_a_step_needs_the_previous_one_unless_an_allowed_role_overrides_with_a_reason(app):
    case = opened_case(app)
    app.cases.act(case.id, "confirm_dropout", causes=["early_marriage"], cause_analysis="早婚", meta=acting("head_teacher", MONDAY))
    step = {"step": "correction_order", "document_no": "责改1号", "addressee": "父亲", "deadline": date(2025, 10, 1),
                "evidence": []}
    with pytest.raises(Conflict) as skipped:
        app.cases.take_legal_step(case.id, override_reason=None, meta=acting("township_officer", MONDAY), **step)
    assert skipped.value.rule == "ladder.previous_step_required"
    with pytest.raises(Forbidden) as not_allowed:
        app.cases.take_legal_step(case.id, override_reason="情况紧急", meta=acting("township_officer", MONDAY), **step)
    assert not_allowed.value.rule == "ladder.override_role"
    with pytest.raises(Forbidden) as wrong_office:
        app.cases.take_legal_step(case.id, step="legal_documents", document_no="司法1号", addressee="父亲",
                            deadline=date(2025, 10, 1), evidence=[], override_reason="越级",
                            meta=acting("township_officer", MONDAY))
    assert wrong_office.value.rule == "ladder.step_role"
    done = app.cases.take_legal_step(case.id, override_reason="监护人已明确拒绝，通知书无法送达",
                               meta=acting("county_officer", MONDAY), **step)
    assert done.ladder["correction_order"]["override"]["skipped"] == "return_notice"


def test_a_missed_deadline_configured_to_escalate_takes_the_next_step_itself():
    app = with_policy(CasePolicy(on_missed={"return_notice": "escalate"}))
    clock = FixedClock(MONDAY)
    case = opened_case(app)
    app.cases.act(case.id, "confirm_dropout", causes=["working_away"], cause_analysis="外出", meta=acting("head_teacher", MONDAY))
    app.cases.take_legal_step(case.id, step="return_notice", document_no="通知1号", addressee="母亲", deadline=None,
                        evidence=[], override_reason=None, meta=acting("school_staff", MONDAY))
    clock.advance(days=8)
    assert tick(app, clock) == 1
    escalated = app.queries.case(case.id)
    order = escalated.ladder["correction_order"]
    assert order["by"] == "system:casework"
    assert order["deadline_at"] == datetime(2025, 10, 9, tzinfo=MONDAY.tzinfo)  # 15 days, through 8 October


def test_a_child_without_capacity_to_study_is_excluded_from_the_count_with_evidence(app):
    case = opened_case(app)
    with pytest.raises(Exception) as no_assessment:
        app.cases.act(case.id, "exclude_from_count", basis="severe_disability", note="重度智力残疾",
                evidence=[proof("photo")], meta=acting("county_officer", MONDAY))
    assert no_assessment.value.rule == "exclusion.assessment_required"
    excluded = app.cases.act(case.id, "exclude_from_count", basis="severe_disability", note="一级智力残疾，经评估无学习能力",
                       evidence=[proof("certificate", "残疾证")], meta=acting("county_officer", MONDAY))
    assert excluded.stage == "excluded"
    assert type(published(app)[-1]).__name__ == "CaseExcludedFromCountV1"


def test_a_retracted_detection_closes_the_unverified_case_it_alone_opened(app):
    from contracts.events.attendance import SuspectedDropoutRetractedV1

    case = opened_case(app)
    deliver(app, SuspectedDropoutRetractedV1(detection_id=case.trigger_id, student_id=case.student_id,
                                             school_id="school-1", township_code="520102001",
                                             corrected_day=date(2025, 9, 9), reason="补录病假条"))
    closed = app.queries.case(case.id)
    assert closed.stage == "closed" and closed.closure["reason"] == "trigger_retracted"
    assert opened_case(app, student_id=case.student_id).id != case.id  # a later detection opens a new episode
