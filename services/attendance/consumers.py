"""Policies that keep attendance's roster from registry's events (ProjectionSink: effect and position in one transaction)."""

from __future__ import annotations

import psycopg

from contracts.events import SchoolRegisteredV1, StudentEnrolledV1
from services.attendance.projections import upsert_school, upsert_student
from services.runtime.consumer import Message


def when_school_registered_add_school(message: Message, conn: psycopg.Connection) -> None:
    """A registered school can take a roll."""
    school = message.payload
    assert isinstance(school, SchoolRegisteredV1)
    upsert_school(conn, school.school_id, school.county_code, school.township_code)


def when_student_enrolled_add_to_roster(message: Message, conn: psycopg.Connection) -> None:
    """An enrolled student is expected at school every school day."""
    student = message.payload
    assert isinstance(student, StudentEnrolledV1)
    upsert_student(conn, student.student_id, student.school_id, student.township_code, student.grade, student.class_name)


POLICIES = {
    SchoolRegisteredV1: when_school_registered_add_school,
    StudentEnrolledV1: when_student_enrolled_add_to_roster,
}
