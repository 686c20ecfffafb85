"""Roster consumer rate: registry's enrolments applied through ``ProjectionSink.apply_batch`` as the consumer loop does.

Not a test: it prints messages/s and never fails on machine speed. It creates a scratch database on the server of
``--database-url`` (dropped afterwards) and applies ``--students`` first enrolments in batches of ``--batch``, then
the same enrolments again (known students: the refresh path, as a redelivery under new sequences).

    .venv/bin/python -m bench.attendance.roster --database-url postgresql://root@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import time
import uuid

import typer

from contracts import topics
from contracts.events.registry import SchoolRegisteredV1, StudentEnrolledV1
from services.runtime.consumer import Message, ProjectionSink

app = typer.Typer(help="Roster consumer benchmark (花名册)", no_args_is_help=False)
COUNTY, TOWNSHIP = "520102", "520102001"
TRACK = f"attendance:{topics.REGISTRY}:0"


def _messages(students: int, per_school: int, first_sequence: int) -> tuple[list[Message], list[Message]]:
    """The schools' registrations and the students' enrolments, numbered from ``first_sequence``."""
    from services.runtime.testing import message

    school_ids = [str(uuid.uuid4()) for _ in range(max(1, students // per_school))]
    schools = [message(SchoolRegisteredV1(school_id=school_id, code=f"S{n:07d}", name="学校", level="primary",
                                          county_code=COUNTY, township_code=TOWNSHIP),
                       subject=school_id, sequence=first_sequence + n) for n, school_id in enumerate(school_ids)]
    enrolments = []
    sequence = first_sequence + len(schools)
    for school_id in school_ids:
        for k in range(per_school):
            student_id = str(uuid.uuid4())
            grade = 1 + k % 6
            enrolments.append(message(StudentEnrolledV1(student_id=student_id, school_id=school_id, county_code=COUNTY,
                                                        township_code=TOWNSHIP, grade=grade, class_name=f"{grade}班",
                                                        name_masked="张*", id_number_masked="520102********1234"),
                                      subject=student_id, sequence=sequence))
            sequence += 1
    return schools, enrolments


def _apply(sink: ProjectionSink, messages: list[Message], batch: int) -> tuple[float, float]:
    """Applies the messages in batches as one poll each; returns messages/s and messages per CPU-second of this
    process (PostgreSQL's CPU not in it, as in the onboarding bench: the figure a loaded machine distorts less)."""
    from services.attendance.entrypoints.consumers import POLICIES

    started, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(messages), batch):
        sink.apply_batch([(TRACK, m.envelope.sequence, POLICIES[type(m.payload)], m) for m in messages[i:i + batch]])
    return len(messages) / (time.perf_counter() - started), len(messages) / max(time.process_time() - cpu, 1e-9)


@app.command()
def roster(
    database_url: str = typer.Option("postgresql://root@127.0.0.1:5432/postgres", help="A server to create a scratch database on"),
    students: int = typer.Option(20_000, help="Enrolments to apply"),
    per_school: int = typer.Option(500, help="Students per school"),
    batch: int = typer.Option(500, help="Messages per apply_batch (one poll)"),
    plain: bool = typer.Option(False, help="A ProjectionSink without the roster consumer's scope and prepare hooks"),
) -> None:
    """Prints messages/s of first enrolments and of the same enrolments sent again."""
    from services.attendance.adapters.schema import migrate
    from services.runtime.scratchdb import fresh_database
    from services.runtime.db import Database

    with fresh_database(database_url, "bench_roster") as url:
        db = Database(url, "attendance")
        try:
            migrate(db)
            if plain:
                sink = ProjectionSink(db, "attendance")
            else:
                from services.attendance.entrypoints.consumers import roster_sink

                sink = roster_sink(db)
            schools, enrolments = _messages(students, per_school, 1)
            _apply(sink, schools, batch)
            first = _apply(sink, enrolments, batch)
            sequence = enrolments[-1].envelope.sequence
            again = [Message(m.envelope.model_copy(update={"sequence": sequence + i + 1}), m.payload)
                     for i, m in enumerate(enrolments)]
            second = _apply(sink, again, batch)
        finally:
            db.close()
    kind = "plain ProjectionSink" if plain else "roster_sink (scope + prepare)"
    print(f"roster consumer, {kind}, batches of {batch}:")
    print(f"  first enrolments: {len(enrolments):,} in {len(enrolments) / first[0]:.1f}s → {first[0]:,.0f} messages/s, "
          f"{first[1]:,.0f} per CPU-second")
    print(f"  enrolments sent again: {len(again):,} in {len(again) / second[0]:.1f}s → {second[0]:,.0f} messages/s, "
          f"{second[1]:,.0f} per CPU-second")


if __name__ == "__main__":
    app()
