"""The school calendar and the consecutive-absence rule, as stories of school weeks."""

from __future__ import annotations

from datetime import date

import pytest

from services.attendance.domain.calendar import SchoolCalendar
from services.attendance.domain.errors import DayInFuture, DayNotSchoolDay
from services.attendance.domain.rules import CONSECUTIVE_ABSENCE_RULE
from services.attendance.domain.school_day import SchoolDay, school_day_id
from services.attendance.domain.student_attendance import StudentAttendance, detection_id_for

META = {"actor_id": "system:test", "actor_role": "system", "jurisdiction": "520102"}
FRI, SAT, SUN, MON, TUE, WED = (date(2025, 9, d) for d in (19, 20, 21, 22, 23, 24))
NATIONAL_DAY = date(2025, 10, 1)  # a Wednesday
MAKEUP_SUNDAY = date(2025, 9, 28)
CALENDAR = SchoolCalendar.of(holidays=[NATIONAL_DAY, date(2025, 10, 2), date(2025, 10, 3)], makeup_days=[MAKEUP_SUNDAY])


def absences(record: StudentAttendance) -> list:
    return [e for e in record.collect_events() if isinstance(e, StudentAttendance.AbsenceRecorded)]


def flags(events: list) -> list:
    return [e for e in events if isinstance(e, StudentAttendance.SuspectedDropoutDetected)]


def new_record(student_id: str = "s-1") -> StudentAttendance:
    return StudentAttendance(student_id=student_id, school_id="school-1", township_code="520102001", meta=META)


def absent_on(record: StudentAttendance, days: list[date], threshold: int = 2, calendar: SchoolCalendar = CALENDAR) -> list:
    for day in days:
        record.record_absence(day, calendar.previous_school_day(day), threshold, META)
    return record.collect_events()


class TestSchoolCalendar:
    def test_weekdays_are_school_days_and_weekends_are_not(self):
        assert CALENDAR.is_school_day(FRI) and CALENDAR.is_school_day(MON)
        assert not CALENDAR.is_school_day(SAT) and not CALENDAR.is_school_day(SUN)

    def test_a_holiday_on_a_weekday_is_not_a_school_day(self):
        assert not CALENDAR.is_school_day(NATIONAL_DAY)

    def test_a_makeup_weekend_day_is_a_school_day(self):
        assert MAKEUP_SUNDAY.weekday() == 6
        assert CALENDAR.is_school_day(MAKEUP_SUNDAY)

    def test_previous_school_day_skips_the_weekend_and_holidays(self):
        assert CALENDAR.previous_school_day(MON) == FRI
        assert CALENDAR.previous_school_day(date(2025, 10, 6)) == date(2025, 9, 30)
        assert CALENDAR.previous_school_day(date(2025, 9, 29)) == MAKEUP_SUNDAY

    def test_next_school_day_and_ranges(self):
        assert CALENDAR.next_school_day(FRI) == MON
        assert CALENDAR.school_days(FRI, TUE) == [FRI, MON, TUE]

    def test_a_roll_is_refused_for_a_future_date_or_a_day_off(self):
        with pytest.raises(DayInFuture) as future:
            CALENDAR.check_roll_day(TUE, today=MON)
        assert future.value.rule == "day_not_in_future"
        with pytest.raises(DayNotSchoolDay) as weekend:
            CALENDAR.check_roll_day(SAT, today=MON)
        assert weekend.value.rule == "school_day"
        CALENDAR.check_roll_day(MON, today=MON)


class TestSchoolDay:
    def test_one_roll_per_school_and_date(self):
        day = SchoolDay(
            school_id="school-1", day=MON, township_code="520102001", enrolled=3, present=1, on_leave=0,
            absent_student_ids=["a", "b"], meta=META,
        )
        assert day.id == school_day_id("school-1", MON)
        assert day.absent == 2
        assert day.id != school_day_id("school-1", TUE)


class TestConsecutiveAbsence:
    def test_friday_and_monday_are_two_consecutive_school_days(self):
        record = new_record()
        events = absent_on(record, [FRI, MON])
        recorded = [e for e in events if isinstance(e, StudentAttendance.AbsenceRecorded)]
        assert [e.consecutive_school_days for e in recorded] == [1, 2]
        [flag] = flags(events)
        assert flag.absent_days == [FRI, MON]
        assert flag.rule == CONSECUTIVE_ABSENCE_RULE and flag.rule_version == 1 and flag.threshold_days == 2
        assert flag.detection_id == str(detection_id_for("s-1", FRI))

    def test_the_threshold_is_configurable(self):
        record = new_record()
        assert flags(absent_on(record, [FRI, MON], threshold=3)) == []
        [flag] = flags(absent_on(record, [TUE], threshold=3))
        assert flag.absent_days == [FRI, MON, TUE] and flag.threshold_days == 3

    def test_a_day_present_breaks_the_streak(self):
        record = new_record()
        events = absent_on(record, [FRI, TUE])  # present on Monday
        assert [e.consecutive_school_days for e in events if isinstance(e, StudentAttendance.AbsenceRecorded)] == [1, 1]
        assert flags(events) == []

    def test_no_second_flag_while_one_is_open(self):
        record = new_record()
        assert len(flags(absent_on(record, [FRI, MON]))) == 1
        assert flags(absent_on(record, [TUE, WED])) == []
        assert record.consecutive_school_days == 4
        assert record.open_detection_id == str(detection_id_for("s-1", FRI))

    def test_a_new_streak_is_not_flagged_while_the_first_flag_is_open(self):
        record = new_record()
        absent_on(record, [FRI, MON])
        assert flags(absent_on(record, [WED, date(2025, 9, 25)])) == []

    def test_recording_the_same_day_twice_changes_nothing(self):
        record = new_record()
        absent_on(record, [FRI])
        assert record.record_absence(FRI, CALENDAR.previous_school_day(FRI), 2, META) is False
        assert record.collect_events() == []

    def test_a_makeup_sunday_joins_the_streak(self):
        record = new_record()
        events = absent_on(record, [date(2025, 9, 26), MAKEUP_SUNDAY])
        assert len(flags(events)) == 1

    def test_a_holiday_week_between_absences_keeps_them_consecutive(self):
        record = new_record()
        events = absent_on(record, [date(2025, 9, 30), date(2025, 10, 6)], threshold=2)
        assert [f.absent_days for f in flags(events)] == [[date(2025, 9, 30), date(2025, 10, 6)]]

    def test_a_day_closed_late_is_recorded_without_rewriting_the_streak(self):
        record = new_record()
        absent_on(record, [MON])
        events = absent_on(record, [FRI])
        assert [e.consecutive_school_days for e in events] == [1]
        assert record.streak_days == [MON]


def test_events_stored_under_the_modules_before_the_rooms_are_still_read():
    """Topics are stored with every event: those of the old flat modules resolve to the classes in their rooms."""
    from eventsourcing.utils import resolve_topic

    import services.attendance.application.app  # noqa: F401  (the event store registers the old topics)
    from services.attendance.domain.configuration import CountyCalendar, CountyDayClose, RuleSet
    from services.attendance.domain.leave import Leave

    assert resolve_topic("services.attendance.domain:SchoolDay.Closed") is SchoolDay.Closed
    assert resolve_topic("services.attendance.domain:StudentAttendance.AbsenceRecorded") is StudentAttendance.AbsenceRecorded
    assert resolve_topic("services.attendance.leave:Leave.Approved") is Leave.Approved
    assert resolve_topic("services.attendance.configuration:CountyCalendar.Set") is CountyCalendar.Set
    assert resolve_topic("services.attendance.configuration:RuleSet") is RuleSet
    assert resolve_topic("services.attendance.configuration:CountyDayClose") is CountyDayClose
