"""Policies that keep attendance's roster from registry's events (ProjectionSink: effect and position in one transaction).

The roster is a history (``students``: one row per stint of a student at a school, valid on [active_from,
active_to)), moved by each lifecycle event **from its effective date**, so that closing a past day uses the roster
of that day. Every policy is idempotent: a redelivered event changes nothing (see ``adapters/roster_history.start_stint`` and
``end_stints``). What each event means for attendance is the table in the service README ("Roster").

``roster_sink`` applies a batch with one stint cache per transaction (``adapters/roster_history.stint_cache``): the stints of
every student the batch names read in one query, new stints written in one statement before the commit.
"""

from __future__ import annotations

import psycopg

from contracts.events.registry import (
    DisabledChildPlacedV1,
    SchoolClosedV1,
    SchoolRegisteredV1,
    SchoolTownshipChangedV1,
    StudentAdmittedV1,
    StudentEnrolledV1,
    StudentGraduatedV1,
    StudentRegistrationClosedV1,
    StudentResumedV1,
    StudentSuspendedV1,
    StudentTransferredInV1,
    StudentTransferredOutV1,
)
from services.attendance.adapters.roster_history import (
    end_school_roster,
    end_stints,
    enrol_student,
    load_stints,
    move_school_township,
    start_stint,
    stint_cache,
    upsert_school,
)
from services.runtime.clock import CHINA
from services.runtime.consumer import Message, ProjectionSink
from services.runtime.db import Database


def when_school_registered_add_school(message: Message, conn: psycopg.Connection) -> None:
    """A registered school can take a roll."""
    school = message.payload
    assert isinstance(school, SchoolRegisteredV1)
    upsert_school(conn, school.school_id, school.county_code, school.township_code)


def when_student_enrolled_add_to_roster(message: Message, conn: psycopg.Connection) -> None:
    """An enrolled student is expected at school every school day (a first enrolment: for every roll)."""
    student = message.payload
    assert isinstance(student, StudentEnrolledV1)
    on = message.envelope.time.astimezone(CHINA).date()
    enrol_student(conn, student.student_id, student.school_id, student.township_code, student.grade, student.class_name, on)


def when_student_transferred_out_remove_from_roster(message: Message, conn: psycopg.Connection) -> None:
    """转出: not expected at the old school from the transfer date (an open suspected dropout stays open)."""
    event = message.payload
    assert isinstance(event, StudentTransferredOutV1)
    end_stints(conn, event.student_id, event.on, event.school_id)


def when_student_transferred_in_add_to_roster(message: Message, conn: psycopg.Connection) -> None:
    """转入: expected at the receiving school from the transfer date (and no longer anywhere else)."""
    event = message.payload
    assert isinstance(event, StudentTransferredInV1)
    start_stint(conn, event.student_id, event.school_id, event.on, event.township_code, event.grade, event.class_name)


def when_student_admitted_add_to_roster(message: Message, conn: psycopg.Connection) -> None:
    """升学 (小升初): on the junior school's roster from the admission date, so its check-ins are accepted."""
    event = message.payload
    assert isinstance(event, StudentAdmittedV1)
    start_stint(conn, event.student_id, event.school_id, event.on, event.township_code, event.grade, event.class_name)


def when_student_suspended_remove_from_roster(message: Message, conn: psycopg.Connection) -> None:
    """休学: not expected from the suspension date until a resumption (``until`` is a plan, not a resumption)."""
    event = message.payload
    assert isinstance(event, StudentSuspendedV1)
    end_stints(conn, event.student_id, event.on, event.school_id)


def when_student_resumed_add_to_roster(message: Message, conn: psycopg.Connection) -> None:
    """复学: expected again from the resumption date, in the grade given (class and placement carried over)."""
    event = message.payload
    assert isinstance(event, StudentResumedV1)
    start_stint(conn, event.student_id, event.school_id, event.on, event.township_code, event.grade)


def when_student_graduated_remove_from_roster(message: Message, conn: psycopg.Connection) -> None:
    """毕业: not expected at the school from the graduation date (the junior school's admission adds the child)."""
    event = message.payload
    assert isinstance(event, StudentGraduatedV1)
    end_stints(conn, event.student_id, event.on, event.school_id)


def when_disabled_child_placed_set_placement(message: Message, conn: psycopg.Connection) -> None:
    """残疾儿童安置 from its date: 随班就读 / 特教学校 expected at that school; 送教上门 on its register, never absent."""
    event = message.payload
    assert isinstance(event, DisabledChildPlacedV1)
    expected = event.placement != "home_delivery"
    start_stint(conn, event.student_id, event.school_id, event.on, event.township_code, expected=expected)


def when_registration_closed_remove_from_roster(message: Message, conn: psycopg.Connection) -> None:
    """注销学籍 (deceased, moved away, emigrated): expected nowhere from the date."""
    event = message.payload
    assert isinstance(event, StudentRegistrationClosedV1)
    end_stints(conn, event.student_id, event.on)


def when_school_closed_end_roster(message: Message, conn: psycopg.Connection) -> None:
    """撤并: the school's roster ends on the closing date (its children arrive elsewhere by transfer events)."""
    event = message.payload
    assert isinstance(event, SchoolClosedV1)
    end_school_roster(conn, event.school_id, event.on)


def when_school_township_changed_move_school(message: Message, conn: psycopg.Connection) -> None:
    """乡镇撤并: the school (its jurisdiction checks) and its running stints (absences' township) move."""
    event = message.payload
    assert isinstance(event, SchoolTownshipChangedV1)
    move_school_township(conn, event.school_id, event.county_code, event.township_code, event.effective)


POLICIES = {
    SchoolRegisteredV1: when_school_registered_add_school,
    StudentEnrolledV1: when_student_enrolled_add_to_roster,
    StudentTransferredOutV1: when_student_transferred_out_remove_from_roster,
    StudentTransferredInV1: when_student_transferred_in_add_to_roster,
    StudentAdmittedV1: when_student_admitted_add_to_roster,
    StudentSuspendedV1: when_student_suspended_remove_from_roster,
    StudentResumedV1: when_student_resumed_add_to_roster,
    StudentGraduatedV1: when_student_graduated_remove_from_roster,
    DisabledChildPlacedV1: when_disabled_child_placed_set_placement,
    StudentRegistrationClosedV1: when_registration_closed_remove_from_roster,
    SchoolClosedV1: when_school_closed_end_roster,
    SchoolTownshipChangedV1: when_school_township_changed_move_school,
}


def load_named_students(conn: psycopg.Connection, messages: list[Message]) -> None:
    """Before a batch's policies: the stints of every student its messages name, in one query."""
    load_stints(conn, [m.payload.student_id for m in messages if isinstance(getattr(m.payload, "student_id", None), str)])


def roster_sink(db: Database) -> ProjectionSink:
    """The consumer's sink: each transaction (a batch, or one message) keeps its students' stints in one cache."""
    return ProjectionSink(db, "attendance", scope=stint_cache, prepare=load_named_students)
