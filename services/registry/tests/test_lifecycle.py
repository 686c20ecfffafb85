"""Enrolment lifecycle (学籍) as stories, and the comparisons that find the children it loses."""

from datetime import date

import pytest

from services.registry.domain.errors import Conflict, InvalidInput
from services.registry.tests.stories import META, County, make_id


@pytest.fixture
def county():
    return County()


def test_a_migrant_child_transfers_out_and_never_arrives(county):
    child = make_id("52010220160512003")
    sid = county.enrol(child)
    county.app.lifecycle.transfer_out(sid, on=date(2026, 9, 10), reason="随父母外出务工", to_school_id=None,
                                      to_region_code="44", meta=META)
    assert county.compare(date(2026, 10, 5))["transfer_lost"] == {"identified": 0, "retracted": 0}  # 25 days: wait
    assert county.compare(date(2026, 10, 11))["transfer_lost"] == {"identified": 1, "retracted": 0}
    assert county.compare(date(2026, 10, 20))["transfer_lost"] == {"identified": 0, "retracted": 0}  # said once
    lost = [c for c in county.published() if c.event_name == "TransferLost"]
    assert len(lost) == 1 and lost[0].student_id == sid and lost[0].days == 30
    assert lost[0].transferred_out_on == date(2026, 9, 10) and lost[0].township_code == "520102001"


def test_a_lost_transfer_is_retracted_when_the_child_arrives_at_last(county):
    sid = county.enrol(make_id("52010220160512003"))
    county.app.lifecycle.transfer_out(sid, on=date(2026, 9, 10), reason="转学", to_school_id=None, to_region_code=None,
                                      meta=META)
    county.compare(date(2026, 10, 15))
    county.app.lifecycle.transfer_in(sid, school_id=county.far_school, on=date(2026, 10, 16), grade=4, class_name="4-2",
                                     meta=META)
    assert county.compare(date(2026, 10, 17))["transfer_lost"] == {"identified": 0, "retracted": 1}
    retracted = [c for c in county.published() if c.event_name == "TransferLostRetracted"]
    assert retracted[0].reason_code == "transferred_in"


def test_a_primary_graduate_is_not_registered_at_a_junior_school(county):
    sid = county.enrol(make_id("52010220140301005"), grade=6)
    county.app.lifecycle.graduate(sid, on=date(2026, 7, 1), level="primary", meta=META)
    assert county.compare(date(2026, 8, 20))["transition_missed"]["identified"] == 0  # term not started yet
    assert county.compare(date(2026, 9, 1))["transition_missed"]["identified"] == 1
    missed = [c for c in county.published() if c.event_name == "TransitionMissed"]
    assert missed[0].graduated_on == date(2026, 7, 1) and missed[0].reason_code == "no_junior_registration"
    county.app.lifecycle.admit(sid, school_id=county.junior, on=date(2026, 9, 8), class_name="7-3", meta=META)
    assert county.compare(date(2026, 9, 9))["transition_missed"] == {"identified": 0, "retracted": 1}
    assert county.published_types()[-1] == "TransitionMissedRetracted"


def test_public_security_reports_a_death_that_closes_the_matter(county):
    child = make_id("52010220150807002")
    county.resident(child)
    assert county.compare(date(2026, 9, 15))["out_of_school"]["identified"] == 1
    county.app.population.report_life_event(id_number=child, status="deceased", on=date(2026, 9, 20), source="public_security",
                                            reference="公(2026)123", to_region_code=None, meta=META)
    assert county.compare(date(2026, 9, 21))["out_of_school"] == {"identified": 0, "retracted": 1}
    retracted = [c for c in county.published() if c.event_name == "OutOfSchoolChildRetracted"][0]
    assert retracted.reason_code == "deceased"
    assert "ChildLifeEventReported" in county.published_types()
    assert county.compare(date(2026, 10, 21))["out_of_school"] == {"identified": 0, "retracted": 0}


def test_a_death_report_also_closes_a_registration_and_a_lost_transfer(county):
    child = make_id("52010220160512003")
    county.resident(child)
    sid = county.enrol(child)
    county.app.lifecycle.transfer_out(sid, on=date(2026, 9, 1), reason="转学", to_school_id=None, to_region_code=None, meta=META)
    county.compare(date(2026, 10, 5))
    county.app.population.report_life_event(id_number=child, status="deceased", on=date(2026, 10, 6), source="public_security",
                                            reference=None, to_region_code=None, meta=META)
    result = county.compare(date(2026, 10, 7))
    assert result["transfer_lost"] == {"identified": 0, "retracted": 1}
    assert county.app.registration.student(sid).status == "closed"
    closed = [c for c in county.published() if c.event_name == "StudentRegistrationClosed"][0]
    assert closed.reason == "deceased" and closed.source == "public_security"


def test_a_wrong_death_report_is_corrected_and_the_child_is_found_again(county):
    child = make_id("52010220150807002")
    county.resident(child)
    county.compare(date(2026, 9, 15))
    county.app.population.report_life_event(id_number=child, status="deceased", on=date(2026, 9, 16), source="public_security",
                                            reference=None, to_region_code=None, meta=META)
    county.compare(date(2026, 9, 17))
    county.app.population.correct_life_event(id_number=child, reason="误报", source="public_security", meta=META)
    assert county.compare(date(2026, 9, 18))["out_of_school"] == {"identified": 1, "retracted": 0}  # re-identified
    assert county.published_types().count("OutOfSchoolChildIdentified") == 2


def test_suspension_needs_approval_and_still_counts_as_in_school(county):
    child = make_id("52010220150807002")
    county.resident(child)
    sid = county.enrol(child)
    with pytest.raises(InvalidInput) as err:
        county.app.lifecycle.suspend(sid, on=date(2026, 9, 10), reason="病", until=None, approval_ref=" ", meta=META)
    assert err.value.rule == "suspension_approved"
    county.app.lifecycle.suspend(sid, on=date(2026, 9, 10), reason="病", until=date(2027, 1, 10), approval_ref="教(2026)9",
                                 meta=META)
    assert county.compare(date(2026, 9, 20))["out_of_school"]["identified"] == 0
    view = county.app.lifecycle.resume(sid, on=date(2027, 1, 10), grade=None, class_name=None, meta=META)
    assert view.status == "enrolled"
    with pytest.raises(Conflict):
        county.app.lifecycle.resume(sid, on=date(2027, 1, 11), grade=None, class_name=None, meta=META)


def test_a_deferred_child_is_not_out_of_school_until_the_deferral_ends(county):
    child = make_id("52010220200301004")  # six in 2026
    county.resident(child)
    with pytest.raises(InvalidInput):
        county.app.population.defer_enrolment(id_number=child, until=date(2027, 8, 31), reason="病", approval_ref="",
                                              approved_by="县教育局", today=date(2026, 9, 1), meta=META)
    county.app.population.defer_enrolment(id_number=child, until=date(2027, 8, 31), reason="病", approval_ref="县教(2026)1",
                                          approved_by="县教育局", today=date(2026, 9, 1), meta=META)
    assert county.compare(date(2026, 9, 15))["out_of_school"]["identified"] == 0
    assert county.compare(date(2027, 9, 15))["out_of_school"]["identified"] == 1
    assert "ChildEnrolmentDeferred" in county.published_types()


@pytest.mark.parametrize("placement, school", [("regular_class", "primary"), ("special_school", "special"),
                                               ("home_delivery", "primary")])
def test_every_placement_of_a_disabled_child_counts_as_in_school(county, placement, school):
    child = make_id("52010220160512003")
    county.resident(child, flags={"disabled": {"degree": "2"}})
    sid = county.enrol(child)
    county.app.lifecycle.place(sid, placement=placement, school_id=getattr(county, school), disability_degree="2",
                               on=date(2026, 9, 5), meta=META)
    assert county.compare(date(2026, 9, 15))["out_of_school"]["identified"] == 0
    assert county.app.registration.student(sid).placement == placement
    assert county.published()[-1].placement == placement


def test_a_special_school_placement_needs_a_special_school(county):
    sid = county.enrol(make_id("52010220160512003"))
    with pytest.raises(InvalidInput) as err:
        county.app.lifecycle.place(sid, placement="special_school", school_id=county.primary, disability_degree=None,
                                   on=date(2026, 9, 5), meta=META)
    assert err.value.rule == "special_school_placement"


def test_graduation_rules(county):
    sid = county.enrol(make_id("52010220160512003"), grade=4)
    with pytest.raises(InvalidInput):
        county.app.lifecycle.graduate(sid, on=date(2026, 7, 1), level="primary", meta=META)
    with pytest.raises(Conflict):  # only a primary graduate is admitted to a junior school
        county.app.lifecycle.admit(sid, school_id=county.junior, on=date(2026, 9, 1), class_name="7-1", meta=META)


def test_a_transfer_in_needs_a_transfer_out_first_and_an_open_school(county):
    sid = county.enrol(make_id("52010220160512003"))
    with pytest.raises(Conflict):
        county.app.lifecycle.transfer_in(sid, school_id=county.far_school, on=date(2026, 9, 1), grade=4, class_name="4-1",
                                         meta=META)
    county.app.lifecycle.transfer_out(sid, on=date(2026, 9, 1), reason="转学", to_school_id=None, to_region_code=None, meta=META)
    county.app.lifecycle.close_school(county.far_school, on=date(2026, 9, 2), reason="撤并", merged_into=None, meta=META)
    with pytest.raises(Conflict) as err:
        county.app.lifecycle.transfer_in(sid, school_id=county.far_school, on=date(2026, 9, 3), grade=4, class_name="4-1",
                                         meta=META)
    assert err.value.rule == "school_open"
    assert "SchoolClosed" in county.published_types()


def test_a_transfer_out_that_names_its_destination_is_received_only_there(county):
    named = county.enrol(make_id("52010220160512003"))
    county.app.lifecycle.transfer_out(named, on=date(2026, 9, 1), reason="转学", to_school_id=county.junior, to_region_code=None,
                                      meta=META)
    with pytest.raises(Conflict) as err:
        county.app.lifecycle.transfer_in(named, school_id=county.far_school, on=date(2026, 9, 2), grade=4, class_name="4-1",
                                         meta=META)
    assert err.value.rule == "transfer_in_destination"
    region = county.enrol(make_id("52010220150611107"))
    county.app.lifecycle.transfer_out(region, on=date(2026, 9, 1), reason="随迁", to_school_id=None, to_region_code="520102",
                                      meta=META)
    with pytest.raises(Conflict):
        county.app.lifecycle.transfer_in(region, school_id=county.far_school, on=date(2026, 9, 2), grade=4, class_name="4-1",
                                         meta=META)  # 520103001 is not in 520102
    county.app.lifecycle.transfer_in(region, school_id=county.primary, on=date(2026, 9, 2), grade=4, class_name="4-1", meta=META)


def test_lifecycle_contracts_carry_no_clear_name_or_id_number(county):
    child = make_id("52010220140301005")
    sid = county.enrol(child, grade=6, name="李秀英")
    county.app.lifecycle.suspend(sid, on=date(2026, 3, 1), reason="病", until=None, approval_ref="A1", meta=META)
    county.app.lifecycle.resume(sid, on=date(2026, 4, 1), grade=None, class_name=None, meta=META)
    county.app.lifecycle.graduate(sid, on=date(2026, 7, 1), level="primary", meta=META)
    county.app.lifecycle.admit(sid, school_id=county.junior, on=date(2026, 9, 1), class_name="7-1", meta=META)
    dumped = " ".join(c.model_dump_json() for c in county.published())
    assert child not in dumped and "李秀英" not in dumped
    assert {"StudentSuspended", "StudentResumed", "StudentGraduated", "StudentAdmitted"} <= set(county.published_types())
