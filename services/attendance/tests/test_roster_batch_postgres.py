"""A batch of registry events applied in one transaction (``roster_sink``: one stint cache, read once, new stints
written once) leaves exactly the roster that the same events applied one at a time leave (on PostgreSQL).

Each story runs twice on one server, in two schemas: one message per transaction through a plain ``ProjectionSink``
(no cache), and the whole poll through ``roster_sink(...).apply_batch``.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import date
from typing import Any, Iterator

import pytest

from contracts import topics
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
from services.attendance.entrypoints.consumers import POLICIES, roster_sink
from services.attendance.adapters.schema import migrate
from services.runtime.consumer import Message, ProjectionSink
from services.runtime.db import Database
from services.runtime.testing import message

pytestmark = pytest.mark.integration

COUNTY, TOWNSHIP, NEW_TOWNSHIP = "520102", "520102001", "520102002"
MON, TUE, WED, THU, FRI = (date(2025, 9, d) for d in (22, 23, 24, 25, 26))
TRACK = f"attendance:{topics.REGISTRY}:0"


class CountingCursor:
    """A cursor that records each statement it runs."""

    def __init__(self, cursor: Any, seen: list[str]) -> None:
        self._cursor, self._seen = cursor, seen

    def __enter__(self) -> "CountingCursor":
        self._cursor.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._cursor.__exit__(*exc)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> "CountingCursor":
        self._seen.append(str(query))
        self._cursor.execute(query, *args, **kwargs)
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class CountingConnection:
    """A connection that records each statement run on it or on its cursors."""

    def __init__(self, conn: Any, seen: list[str]) -> None:
        self._conn, self._seen = conn, seen

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        self._seen.append(str(query))
        return self._conn.execute(query, *args, **kwargs)

    def cursor(self, *args: Any, **kwargs: Any) -> CountingCursor:
        return CountingCursor(self._conn.cursor(*args, **kwargs), self._seen)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class CountingDatabase:
    """The database as a sink sees it, every statement of its transactions recorded."""

    def __init__(self, db: Database) -> None:
        self.db, self.statements = db, []

    @contextmanager
    def transaction(self) -> Iterator[CountingConnection]:
        with self.db.transaction() as conn:
            yield CountingConnection(conn, self.statements)

    def execute_script(self, statements: str) -> None:
        self.db.execute_script(statements)

    def ensure_tables(self, statements: str) -> None:
        self.db.ensure_tables(statements)

    def on_students(self, verb: str) -> int:
        return sum(1 for s in self.statements if s.lstrip().startswith(verb) and " students " in f"{s} ")


@pytest.fixture(scope="module")
def databases(database_url):
    """One schema applied one message at a time, one applied a poll at a time."""
    one, batch = Database(database_url, "attendance_one"), Database(database_url, "attendance_batch")
    for db in (one, batch):
        migrate(db)
    yield one, batch
    one.close()
    batch.close()


def msg(payload: Any) -> Message:
    subject = getattr(payload, "student_id", None) or payload.school_id
    return message(payload, subject=subject)


def again(messages: list[Message]) -> list[Message]:
    """The same events redelivered by the broker under new sequences."""
    return [msg(m.payload) for m in messages]


def one_at_a_time(db: Database, messages: list[Message]) -> None:
    sink = ProjectionSink(db, "attendance")
    for m in messages:
        sink.apply(TRACK, m.envelope.sequence, POLICIES[type(m.payload)], m)


def as_one_poll(db: Any, messages: list[Message]) -> None:
    roster_sink(db).apply_batch([(TRACK, m.envelope.sequence, POLICIES[type(m.payload)], m) for m in messages])


def both(databases, messages: list[Message]) -> None:
    one, batch = databases
    one_at_a_time(one, messages)
    as_one_poll(batch, messages)


def stint_rows(db: Database, student_ids: list[str]) -> list[tuple]:
    with db.transaction() as conn:
        rows = conn.execute(
            "SELECT student_id, school_id, active_from, active_to, township_code, grade, class_name, expected "
            "FROM students WHERE student_id = ANY(%s::text[]) ORDER BY student_id, active_from, school_id",
            (student_ids,),
        ).fetchall()
    return [tuple(r.values()) for r in rows]


def ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


def registered(school_id: str, level: str = "primary") -> Message:
    return msg(SchoolRegisteredV1(school_id=school_id, code=school_id[:8], name="学校", level=level, county_code=COUNTY,
                                  township_code=TOWNSHIP))


def enrolled(student_id: str, school_id: str, grade: int = 3, class_name: str | None = None) -> Message:
    return msg(StudentEnrolledV1(student_id=student_id, school_id=school_id, county_code=COUNTY, township_code=TOWNSHIP,
                                 grade=grade, class_name=class_name or f"{grade}班", name_masked="张*",
                                 id_number_masked="520102********1234"))


def transferred(student_id: str, old: str, new: str, on: date, grade: int = 3) -> list[Message]:
    return [
        msg(StudentTransferredOutV1(student_id=student_id, school_id=old, township_code=TOWNSHIP, on=on, reason="随迁")),
        msg(StudentTransferredInV1(student_id=student_id, school_id=new, county_code=COUNTY, township_code=TOWNSHIP,
                                   grade=grade, class_name=f"{grade}班", on=on)),
    ]


def test_a_poll_of_lifecycle_events_leaves_the_roster_that_one_message_at_a_time_leaves(databases):
    primary, closing = ids(2)
    junior, other = sorted(ids(2))  # two stints from one day are ordered by school id: the junior school's first
    known, graduate, mover, resting, at_home, leaver, arriving = ids(7)
    newcomers = ids(6)
    earlier = (known, graduate, mover, resting, at_home, leaver, arriving)
    both(databases, [registered(primary), registered(other), registered(junior, "junior"), registered(closing)]
         + [enrolled(s, primary, grade=6 if s == graduate else 3) for s in earlier])

    a, b, c, d, e, f = newcomers
    poll = [
        *[enrolled(s, primary) for s in (a, b)],
        enrolled(c, closing),
        enrolled(a, primary),  # the same enrolment twice in one poll
        enrolled(b, primary, class_name="3(2)班"),  # sent again with a new class: a refresh of a stint not yet written
        enrolled(known, other, grade=4),  # a re-enrolment of a student the roster knows: a stint from the event's day
        *transferred(mover, primary, other, WED),
        transferred(mover, primary, other, WED)[0],  # redelivered within the poll
        msg(StudentGraduatedV1(student_id=graduate, school_id=primary, township_code=TOWNSHIP, on=date(2025, 7, 1),
                               level="primary")),
        msg(StudentAdmittedV1(student_id=graduate, school_id=junior, county_code=COUNTY, township_code=TOWNSHIP, grade=7,
                              class_name="7(2)班", on=date(2025, 9, 1))),
        msg(StudentSuspendedV1(student_id=resting, school_id=primary, township_code=TOWNSHIP, on=MON, reason="病休")),
        msg(StudentResumedV1(student_id=resting, school_id=primary, township_code=TOWNSHIP, on=THU, grade=4)),
        msg(StudentSuspendedV1(student_id=resting, school_id=primary, township_code=TOWNSHIP, on=FRI, reason="病休")),
        msg(DisabledChildPlacedV1(student_id=at_home, school_id=primary, township_code=TOWNSHIP,
                                  placement="home_delivery", on=TUE)),
        # a new student transferred in the poll that enrolled him, the transfer in before the transfer out
        enrolled(d, primary),
        *reversed(transferred(d, primary, other, TUE)),
        # two arrivals on one day: the first stint ends the day it starts
        enrolled(e, primary),
        *transferred(e, primary, other, WED),
        msg(StudentTransferredInV1(student_id=e, school_id=junior, county_code=COUNTY, township_code=TOWNSHIP, grade=4,
                                   class_name="4班", on=WED)),
        # a placement carries grade and class from the latest stint (here the one at the other school, by school id)
        msg(DisabledChildPlacedV1(student_id=e, school_id=junior, township_code=TOWNSHIP, placement="regular_class",
                                  on=THU)),
        # a transfer in whose transfer out is still to come, then a resumption at the new school
        transferred(arriving, primary, other, WED)[1],
        msg(StudentResumedV1(student_id=arriving, school_id=other, township_code=TOWNSHIP, on=FRI, grade=5)),
        msg(StudentRegistrationClosedV1(student_id=leaver, school_id=primary, township_code=TOWNSHIP, on=THU,
                                        reason="moved_away", source="public_security")),
        # school-wide changes in the middle of the poll, then more events for their students
        msg(SchoolTownshipChangedV1(school_id=other, from_township_code=TOWNSHIP, township_code=NEW_TOWNSHIP,
                                    county_code=COUNTY, effective=TUE, reason="township_merged")),
        enrolled(f, other),
        msg(SchoolClosedV1(school_id=closing, township_code=TOWNSHIP, on=THU, reason="撤并")),
        transferred(c, closing, other, FRI)[1],  # the school's roster ended Thursday: nothing there to end Friday
        transferred(c, closing, other, FRI)[0],
        enrolled(a, primary, grade=4),
    ]
    both(databases, poll)
    one, batch = databases
    students = [*earlier, *newcomers]
    expected = stint_rows(one, students)
    assert stint_rows(batch, students) == expected
    assert {r[1:4] for r in expected if r[0] == e} == {(primary, date.min, WED), (other, WED, WED), (junior, WED, None)}

    both(databases, poll)  # the poll read again from the broker: every message at or below its position, passed over
    assert stint_rows(one, students) == stint_rows(batch, students) == expected
    # the poll's events published again under new sequences (an enrolment of a student now known: a re-enrolment)
    both(databases, again(poll))
    assert stint_rows(batch, students) == stint_rows(one, students) != expected


def test_a_poll_of_first_enrolments_reads_the_roster_once_and_writes_it_once(databases):
    _, batch = databases
    counted = CountingDatabase(batch)
    (school_id,) = ids(1)
    students = ids(40)
    as_one_poll(counted, [registered(school_id)])
    counted.statements.clear()

    as_one_poll(counted, [enrolled(s, school_id) for s in students])
    assert (counted.on_students("SELECT"), counted.on_students("INSERT"), counted.on_students("UPDATE")) == (1, 1, 0)
    assert {r[0] for r in stint_rows(batch, students)} == set(students)

    counted.statements.clear()
    as_one_poll(counted, again([enrolled(s, school_id) for s in students]))  # sent again: known, nothing to change
    assert (counted.on_students("SELECT"), counted.on_students("INSERT"), counted.on_students("UPDATE")) == (1, 0, 0)
