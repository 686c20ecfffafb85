"""The inbox's effective time (the business date or time a fact belongs to), with the fields looked up per class."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

from contracts.events.casework import CaseOpenedV1
from contracts.events.registry import StudentEnrolledV1, StudentTransferredOutV1
from services.reporting.adapters.inbox import effective_time
from services.reporting.domain.calendar import start_of

RECORDED = datetime(2026, 10, 8, 2, 0, tzinfo=timezone.utc)


def test_a_business_date_or_time_wins_when_earlier_than_the_recording_and_otherwise_the_recording() -> None:
    out = StudentTransferredOutV1(student_id="s1", school_id="x1", township_code="520102001",
                                  on=date(2026, 9, 30), reason="moved")
    assert effective_time(RECORDED, out) == start_of(date(2026, 9, 30)) + timedelta(hours=12)
    later = out.model_copy(update={"on": date(2026, 10, 20)})
    assert effective_time(RECORDED, later) == RECORDED
    opened = CaseOpenedV1(case_id="c1", student_id="s1", school_id=None, township_code="520102001", source="attendance",
                          trigger_id="t1", opened_at=RECORDED - timedelta(days=3))
    assert effective_time(RECORDED, opened) == RECORDED - timedelta(days=3)
    enrolled = StudentEnrolledV1(student_id="s1", school_id="x1", county_code="520102", township_code="520102001",
                                 grade=3, class_name="3-1", name_masked="张*", id_number_masked="5201**")
    assert effective_time(RECORDED, enrolled) == RECORDED  # no business date: when it was recorded
    assert effective_time(RECORDED, out) == effective_time(RECORDED, out)  # the cached lookup answers the same


def test_an_object_that_is_not_a_model_is_looked_at_by_every_name() -> None:
    assert effective_time(RECORDED, SimpleNamespace(day=date(2026, 9, 1))) == start_of(date(2026, 9, 1)) + timedelta(hours=12)
    assert effective_time(RECORDED, SimpleNamespace()) == RECORDED
