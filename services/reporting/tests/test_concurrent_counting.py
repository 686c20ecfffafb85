"""Two consumer members counting one child's rows at the same time (issue 16, replicas): a confirmed primary case
returned (casework topic, one member) while its child is admitted to grade 7 (registry topic, another member).
Each transaction computes its counter difference from the rows it reads; without a lock per child, the member
admitting the child moved the still-confirmed case from primary to junior and the member returning it retracted
it under primary (the grade it read), leaving confirmed_primary at -1 and confirmed_junior at +1 — what the
replicas simulation showed. With the lock the second transaction reads what the first committed."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone

import pytest

from contracts.events import casework as c
from contracts.events import registry as r
from services.reporting.entrypoints.consumers import CONSUMER, DEFAULT_PARTITIONS, batch_scope, prepare_batch
from services.runtime.consumer import ProjectionSink

pytestmark = pytest.mark.integration
TOWNSHIP, COUNTY = "520101001", "520101"
AT = datetime(2025, 9, 20, 4, 0, tzinfo=timezone.utc)


def confirmed(conn) -> dict[str, int]:
    rows = conn.execute("SELECT measure, sum(n) AS n FROM dashboard_counts WHERE unit = %s AND key = '' AND measure "
                        "IN ('confirmed_primary', 'confirmed_junior', 'confirmed_dropouts') GROUP BY measure",
                        (COUNTY,)).fetchall()
    return {"confirmed_primary": 0, "confirmed_junior": 0, "confirmed_dropouts": 0} | {
        row["measure"]: int(row["n"]) for row in rows}


def waiting_on_a_lock(conn, pid: int) -> bool:
    row = conn.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    return row is not None and row["wait_event_type"] == "Lock"


@pytest.mark.parametrize("first_member", ["admitting", "returning"])
def test_a_case_returned_while_its_child_changes_grade_in_another_member_is_counted_once(feed, reporting_db,
                                                                                          first_member):
    primary, junior = feed.school(TOWNSHIP, "第一小学"), feed.school(TOWNSHIP, "第一中学")
    student_id = feed.student(primary, TOWNSHIP)
    feed.deliver(r.StudentResumedV1(student_id=student_id, school_id=primary, township_code=TOWNSHIP,
                                    on=date(2025, 9, 1), grade=6))  # a primary child (grade 6)
    case = feed.case(student_id, primary, TOWNSHIP)
    feed.deliver(c.CaseVerifiedV1(case_id=case.case_id, student_id=student_id, township_code=TOWNSHIP,
                                  outcome="dropout", causes=["family"], verified_at=AT))
    with reporting_db.transaction() as conn:
        assert confirmed(conn) == {"confirmed_primary": 1, "confirmed_junior": 0, "confirmed_dropouts": 1}

    # one member (the registry partition) admits the child to grade 7; another (the casework partition) returns
    # the case; the first of them pauses after counting, before its commit, while the second runs
    admitted = feed.deliver(r.StudentAdmittedV1(
        student_id=student_id, school_id=junior, county_code=COUNTY, township_code=TOWNSHIP, grade=7,
        class_name="7(1)班", on=date(2025, 9, 21)), subject=student_id, apply=False)
    returned = feed.deliver(c.CaseReturnedV1(
        case_id=case.case_id, student_id=student_id, township_code=TOWNSHIP, source="school_confirmation",
        returned_on=date(2025, 9, 22), follow_up_until=date(2025, 9, 22) + timedelta(days=10)),
        subject=case.case_id, apply=False)
    first, second = (admitted, returned) if first_member == "admitting" else (returned, admitted)
    read, release = threading.Event(), threading.Event()
    pids: dict[str, int] = {}
    prepare = prepare_batch(DEFAULT_PARTITIONS)

    def counted_then_paused(message, conn) -> None:
        first[2](message, conn)
        read.set()
        release.wait(120)

    def prepared_second(conn, messages) -> None:
        pids["second"] = conn.info.backend_pid
        prepare(conn, messages)

    member_1 = ProjectionSink(reporting_db, CONSUMER, scope=batch_scope, prepare=prepare)
    member_2 = ProjectionSink(reporting_db, CONSUMER, scope=batch_scope, prepare=prepared_second)
    errors: list[BaseException] = []

    def run(apply) -> None:
        try:
            apply()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    one = threading.Thread(target=run, args=(lambda: member_1.apply_batch([(*first[:2], counted_then_paused, first[3])]),))
    two = threading.Thread(target=run, args=(lambda: member_2.apply_batch([second]),))
    one.start()
    try:
        assert read.wait(60), errors
        two.start()
        # the second either commits at once (each member counting from its own reads) or waits for the first's
        # lock: either is observed without any timing assumption, then the first commits
        with reporting_db.transaction() as conn:
            while two.is_alive() and not ("second" in pids and waiting_on_a_lock(conn, pids["second"])):
                two.join(0.05)
    finally:
        release.set()
        one.join(60)
        two.join(60)
    assert not errors, errors
    with reporting_db.transaction() as conn:
        grade = conn.execute("SELECT grade FROM students WHERE student_id = %s", (student_id,)).fetchone()["grade"]
        status = conn.execute("SELECT status FROM ledger WHERE case_id = %s", (case.case_id,)).fetchone()["status"]
        assert (grade, status) == (7, "returned")
        assert confirmed(conn) == {"confirmed_primary": 0, "confirmed_junior": 0, "confirmed_dropouts": 0}
