"""The use cases read the roster valid on the day they work on (in-memory store; the consumer is tested on PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from services.attendance.application.service import Attendance
from services.attendance.domain.errors import BatchRejected
from services.attendance.domain.values import CheckinRow
from services.attendance.settings import AttendanceSettings
from services.attendance.tests.fakes import InMemoryAttendanceStore, in_memory_attendance
from services.runtime.clock import CHINA, FixedClock

META = {"actor_id": "u-1", "actor_role": "school_staff", "jurisdiction": "520102", "correlation_id": "c-1"}
MON, TUE, WED, THU = date(2025, 9, 22), date(2025, 9, 23), date(2025, 9, 24), date(2025, 9, 25)


def seen(student_id: str, day: date) -> list[CheckinRow]:
    return [CheckinRow(student_id, "present", datetime(day.year, day.month, day.day, 8, tzinfo=CHINA), "gate-1")]


@pytest.fixture
def store() -> InMemoryAttendanceStore:
    store = InMemoryAttendanceStore()
    store.add_school("old")
    store.add_school("new")
    store.enrol("mover", "old")
    store.leave_school("mover", WED, "old")
    store.enrol("mover", "new", since=WED)
    store.enrol("at-home", "old", expected=False)
    return store


@pytest.fixture
def app(store) -> Attendance:
    return in_memory_attendance(store, FixedClock(datetime(2025, 9, 25, 20, tzinfo=CHINA)), AttendanceSettings(env="test"))


def test_each_day_is_closed_against_its_own_roster(app):
    assert [app.close_day("old", day, META).absent_student_ids for day in (MON, TUE, WED, THU)] == [["mover"], ["mover"], [], []]
    assert [app.close_day("new", day, META).absent_student_ids for day in (MON, TUE, WED, THU)] == [[], [], ["mover"], ["mover"]]


def test_check_ins_are_taken_for_the_roster_of_their_day(app):
    assert app.record_checkins("old", TUE, seen("mover", TUE)).accepted == 1
    assert app.record_checkins("new", WED, seen("mover", WED)).accepted == 1
    with pytest.raises(BatchRejected):
        app.record_checkins("old", WED, seen("mover", WED))
    assert app.record_checkins("old", WED, seen("at-home", WED)).accepted == 1  # 送教上门: welcome, never expected
    assert app.close_day("old", WED, META).enrolled == 0
    assert [s.student_id for s in app.roster("new").students] == ["mover"]
