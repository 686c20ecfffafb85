"""The domain's rules, told as stories: one case per child episode (一人一案)."""

import pytest

from services.casework.domain import (
    Case,
    ChildCases,
    InvalidInput,
    Trigger,
    case_id_for,
    child_cases_id_for,
)

META = {"actor_id": "system:casework", "actor_role": "system", "jurisdiction": "520102001",
        "correlation_id": "c-1", "causation_id": "e-1", "at": "2025-09-10T09:30:00+08:00"}


def trigger(trigger_id: str = "d-1", student_id: str = "s-1", **overrides) -> Trigger:
    fields = {"trigger_id": trigger_id, "source": "attendance", "student_id": student_id, "school_id": "school-1",
                  "township_code": "520102001", "evidence": {"threshold_days": 3}}
    fields.update(overrides)
    return Trigger(**fields)


def test_a_first_detection_opens_a_suspected_case_at_the_time_it_happened():
    child = ChildCases(student_id="s-1", meta=META)
    case = child.open_case_for(trigger(), META)
    assert isinstance(case, Case)
    assert case.stage == "suspected"
    assert case.opened_at.isoformat() == "2025-09-10T09:30:00+08:00"
    assert case.id == case_id_for("attendance", "d-1")
    assert child.open_case_id == str(case.id)
    assert child.id == child_cases_id_for("s-1")


def test_the_same_trigger_again_opens_nothing_and_records_nothing():
    child = ChildCases(student_id="s-1", meta=META)
    child.open_case_for(trigger(), META)
    child.collect_events()
    assert child.open_case_for(trigger(), META) is None
    assert child.collect_events() == []


def test_a_new_detection_while_a_case_is_open_joins_that_case():
    child = ChildCases(student_id="s-1", meta=META)
    case = child.open_case_for(trigger("d-1"), META)
    assert child.open_case_for(trigger("d-2"), META) is None
    assert child.case_for_trigger("d-2") == str(case.id)
    assert [type(e).__name__ for e in child.collect_events()] == ["Started", "EpisodeStarted", "TriggerAttached"]


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"township_code": "520102"}, "case_township_code"),
        ({"source": "rumour"}, "case_source"),
        ({"trigger_id": ""}, "trigger_identified"),
        ({"student_id": "s-2"}, "trigger_for_this_child"),
    ],
)
def test_a_trigger_that_breaks_a_rule_is_refused_by_name(overrides, rule):
    child = ChildCases(student_id="s-1", meta=META)
    with pytest.raises(InvalidInput) as refused:
        child.open_case_for(trigger(**overrides), META)
    assert refused.value.rule == rule
    assert child.open_case_id is None
