"""The ledger projection on PostgreSQL: each event's effect lands once, whatever the redelivery."""

from __future__ import annotations

import pytest

from services.reporting.entrypoints.consumers import CONSUMER

pytestmark = pytest.mark.integration

TOWNSHIP = "520102001"


def ledger_rows(db):
    with db.transaction() as conn:
        return conn.execute("SELECT * FROM ledger ORDER BY case_id").fetchall()


def test_a_case_applied_twice_is_one_ledger_row(feed, reporting_db):
    school = feed.school(TOWNSHIP)
    student = feed.student(school, TOWNSHIP)
    case = feed.case(student, school, TOWNSHIP)
    track = f"{CONSUMER}:{case.topic}:0"

    assert feed.deliver(case, sequence=1) is False  # redelivered at the same position: skipped by the sink
    assert feed.deliver(case, sequence=2) is True  # the same case published again: the upsert absorbs it

    [row] = ledger_rows(reporting_db)
    assert (row["case_id"], row["status"], row["county_code"], row["source"]) == (
        case.case_id, "suspected", "520102", "attendance",
    )
    assert row["last_sequence"] == 1
    assert feed.sink.last_applied(track) == 2


def test_a_case_may_arrive_before_its_student_and_school(feed, reporting_db):
    import uuid

    school, student = str(uuid.uuid4()), str(uuid.uuid4())
    feed.case(student, school, TOWNSHIP)
    [row] = ledger_rows(reporting_db)
    assert row["student_id"] == student and row["school_id"] == school


def test_positions_record_what_the_figures_reflect(feed, reporting_db):
    school = feed.school(TOWNSHIP)
    feed.student(school, TOWNSHIP)
    feed.case(feed.student(school, TOWNSHIP), school, TOWNSHIP)
    with reporting_db.transaction() as conn:
        positions = {r["topic"]: r["sequence"] for r in conn.execute("SELECT * FROM applied_positions").fetchall()}
    assert positions == {"baoxue.registry.v1": 3, "baoxue.casework.v1": 1}
