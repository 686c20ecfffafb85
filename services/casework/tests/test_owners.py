"""双线四包: owners on both lines come from the township's responsibility map; queues put due work first."""

from datetime import date, timedelta

import pytest

from services.casework.application import CaseworkApp
from services.casework.domain import InvalidInput
from services.casework.tests.builders import MONDAY, acting, opened_case
from services.runtime.testing import in_memory

MAP = [
    {"slot": "township", "user_id": "twp-lead", "name": "王镇长"},
    {"slot": "village", "village_code": "520102001003", "user_id": "cadre-3", "name": "李村主任"},
    {"slot": "group", "village_code": "520102001003", "group": "五组", "user_id": "group-5", "name": "赵组长"},
    {"slot": "school_leader", "school_id": "school-1", "user_id": "vp-1", "name": "陈副校长"},
    {"slot": "head_teacher", "school_id": "school-1", "user_id": "ht-any", "name": "默认班主任"},
    {"slot": "head_teacher", "student_id": "s-1", "user_id": "ht-7", "name": "刘老师"},
    {"slot": "subject_teacher", "student_id": "s-1", "user_id": "math-2", "name": "周老师"},
]


@pytest.fixture
def app() -> CaseworkApp:
    app = in_memory(CaseworkApp)
    app.owners.put_responsibilities("520102001", MAP, replace=True, source="csv", meta=acting("township_officer", MONDAY))
    return app


def holders(case) -> dict[str, str]:
    return {slot: o["user_id"] for slot, o in case.owners.items()}


def test_a_new_case_gets_the_most_specific_owners_on_both_lines_and_the_home_fills_the_rest(app):
    case = opened_case(app, student_id="s-1")
    assert holders(case) == {"township": "twp-lead", "school_leader": "vp-1", "head_teacher": "ht-7",
                             "subject_teacher": "math-2"}
    located = app.cases.locate_home(case.id, "520102001003", "五组", acting("village_cadre", MONDAY))
    assert holders(located)["village"] == "cadre-3" and holders(located)["group"] == "group-5"
    other = opened_case(app, student_id="s-2")
    assert holders(other)["head_teacher"] == "ht-any" and "subject_teacher" not in holders(other)


def test_an_owner_is_reassigned_with_a_reason_and_the_history_keeps_who_held_the_slot(app):
    case = opened_case(app, student_id="s-1")
    moved = app.cases.act(case.id, "reassign_owner", slot="head_teacher", user_id="ht-9", name="新班主任",
                    reason="原班主任调离", meta=acting("school_staff", MONDAY))
    assert holders(moved)["head_teacher"] == "ht-9"
    [change] = [h for h in app.queries.case_history(case.id) if h.event == "OwnerReassigned"]
    assert change.data["previous_user_id"] == "ht-7" and change.data["reason"] == "原班主任调离"


def test_a_map_entry_outside_its_township_is_refused_by_rule(app):
    with pytest.raises(InvalidInput) as refused:
        app.owners.put_responsibilities("520102001", [{"slot": "village", "village_code": "520103001001", "user_id": "x"}],
                                 replace=False, source="api", meta=acting("township_officer", MONDAY))
    assert refused.value.rule == "map.village_code"


def test_an_owners_queue_puts_due_actions_first(app):
    calm = opened_case(app, student_id="s-1")
    urgent = opened_case(app, student_id="s-1b", school_id="school-1")
    for case in (calm, urgent):
        app.cases.act(case.id, "confirm_dropout", causes=["other"], cause_analysis="待查", meta=acting("head_teacher", MONDAY))
    app.cases.take_legal_step(urgent.id, step="return_notice", document_no="通知9号", addressee="父亲",
                        deadline=date(2025, 9, 19), evidence=[], override_reason=None,
                        meta=acting("school_staff", MONDAY + timedelta(hours=1)))
    queue = app.queries.queue("vp-1", "520102")
    assert [q.case_id for q in queue] == [str(urgent.id), str(calm.id)]
    assert queue[0].next_action == "await_deadline:return_notice" and queue[1].next_due_at is None
    assert app.queries.queue("vp-1", "520103") == []  # another county sees nothing
