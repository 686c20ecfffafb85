"""Reporting policies: project registry and casework events into the ledger (ProjectionSink: (message, conn))."""

from __future__ import annotations

from typing import Any

import psycopg

from contracts import topics
from contracts.events import CaseOpenedV1, SchoolRegisteredV1, StudentEnrolledV1
from services.reporting import projections
from services.runtime.consumer import Message

CONSUMER = "reporting"
TOPICS = [topics.REGISTRY, topics.ATTENDANCE, topics.CASEWORK]


def _advance(message: Message, conn: psycopg.Connection) -> None:
    projections.advance(conn, message.payload.topic, message.envelope.sequence, message.envelope.time)


def when_school_registered_project_school(message: Message, conn: psycopg.Connection) -> None:
    """Schools give the ledger its school names and the dashboards their counties."""
    p: SchoolRegisteredV1 = message.payload  # type: ignore[assignment]
    projections.upsert_school(
        conn, sequence=message.envelope.sequence, school_id=p.school_id, code=p.code, name=p.name, level=p.level,
        county_code=p.county_code, township_code=p.township_code,
    )
    _advance(message, conn)


def when_student_enrolled_project_student(message: Message, conn: psycopg.Connection) -> None:
    """Students give ledger rows their masked name and ID number (never the clear ones)."""
    p: StudentEnrolledV1 = message.payload  # type: ignore[assignment]
    projections.upsert_student(
        conn, sequence=message.envelope.sequence, student_id=p.student_id, school_id=p.school_id,
        county_code=p.county_code, township_code=p.township_code, grade=p.grade, class_name=p.class_name,
        name_masked=p.name_masked, id_number_masked=p.id_number_masked,
    )
    _advance(message, conn)


def when_case_opened_add_to_ledger(message: Message, conn: psycopg.Connection) -> None:
    """A case opened is a suspected dropout in the ledger (台账)."""
    p: CaseOpenedV1 = message.payload  # type: ignore[assignment]
    projections.open_case(
        conn, case_id=p.case_id, student_id=p.student_id, school_id=p.school_id, township_code=p.township_code,
        source=p.source, opened_at=p.opened_at, topic=p.topic, sequence=message.envelope.sequence,
    )
    _advance(message, conn)


POLICIES: dict[type, Any] = {
    SchoolRegisteredV1: when_school_registered_project_school,
    StudentEnrolledV1: when_student_enrolled_project_student,
    CaseOpenedV1: when_case_opened_add_to_ledger,
}
