"""Reporting consumer rate: registry's onboarding (schools, then first enrolments) applied through the reporting
sink's ``apply_batch`` as the consumer loop does (one poll = one batch over many partitions).

Not a test: it prints messages/s and messages per CPU-second of this process (the figure a loaded machine does not
distort: PostgreSQL's own CPU is not in it, as in the onboarding bench) and never fails on machine speed. It creates
a scratch database on the server of ``--database-url`` (dropped afterwards).

    .venv/bin/python -m bench.reporting.consumer --database-url postgresql://root@127.0.0.1:5432/test
"""

from __future__ import annotations

import random
import time
import uuid

import typer

from contracts.events.registry import SchoolRegisteredV1, StudentEnrolledV1
from services.runtime.consumer import Message

app = typer.Typer(help="Reporting consumer benchmark", no_args_is_help=False)
COUNTY = "520102"
PARTITIONS = 24


def _messages(students: int, per_school: int, townships: int) -> tuple[list[Message], list[Message]]:
    """The schools' registrations and the students' enrolments (each with its own subject and sequence)."""
    from services.runtime.testing import message

    rng = random.Random(7)
    schools, enrolments = [], []
    school_ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(max(1, students // per_school))]
    for n, school_id in enumerate(school_ids):
        township = f"{COUNTY}{1 + n % townships:03d}"
        schools.append(message(SchoolRegisteredV1(school_id=school_id, code=f"S{n:07d}", name="学校", level="primary",
                                                  county_code=COUNTY, township_code=township), subject=school_id))
    for n in range(students):
        student_id = str(uuid.UUID(int=rng.getrandbits(128)))
        k = rng.randrange(len(school_ids))
        grade = 1 + n % 6
        enrolments.append(message(StudentEnrolledV1(
            student_id=student_id, school_id=school_ids[k], county_code=COUNTY,
            township_code=f"{COUNTY}{1 + k % townships:03d}", grade=grade, class_name=f"{grade}({1 + n % 4})班",
            name_masked="张*", id_number_masked="520102********1234", head_teacher_id=f"ht-{k}"), subject=student_id))
    return schools, enrolments


def _items(messages: list[Message], sequences: dict[str, int]) -> list[tuple]:
    """Sink items as the loop hands them over: each message on its subject's partition, numbered in its topic (the
    relay's sequence: the source's notification id)."""
    from services.reporting.entrypoints.consumers import CONSUMER, policies
    from services.runtime.kafka import partition_for

    out, by_type = [], policies(PARTITIONS)
    for m in messages:
        track = f"{CONSUMER}:{m.payload.topic}:{partition_for(m.envelope.subject, PARTITIONS)}"
        sequence = sequences[m.payload.topic] = sequences.get(m.payload.topic, 0) + 1
        m = Message(m.envelope.model_copy(update={"sequence": sequence}), m.payload)
        out.append((track, sequence, by_type[type(m.payload)], m))
    return out


def _apply(sink, items: list[tuple], batch: int) -> tuple[float, float]:
    """Applies the items in polls of ``batch``; returns (messages/s, messages per CPU-second of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(items), batch):
        sink.apply_batch(items[i:i + batch])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return len(items) / wall, len(items) / max(cpu, 1e-9)


@app.command()
def consumer(
    database_url: str = typer.Option("postgresql://root@127.0.0.1:5432/postgres", help="A server to create a scratch database on"),
    students: int = typer.Option(20_000, help="Enrolments to apply"),
    per_school: int = typer.Option(500, help="Students per school"),
    townships: int = typer.Option(10, help="Townships of the county"),
    batch: int = typer.Option(2_000, help="Messages per apply_batch (one poll; BAOXUE_CONSUMER_BATCH_SIZE)"),
    profile: str = typer.Option("", help="Write a cProfile of the enrolments' polls to this file"),
) -> None:
    """Prints messages/s and per CPU-second of first enrolments (and of the schools before them)."""
    from services.reporting.adapters import schema
    from services.reporting.entrypoints.consumers import CONSUMER, batch_scope, prepare_batch
    from services.runtime.consumer import OFFSETS_DDL, ProjectionSink
    from services.runtime.db import Database
    from services.runtime.scratchdb import fresh_database

    schools, enrolments = _messages(students, per_school, townships)
    rng = random.Random(11)
    rng.shuffle(enrolments)
    sequences: dict[str, int] = {}
    school_items, enrolment_items = _items(schools, sequences), _items(enrolments, sequences)
    with fresh_database(database_url, "bench_reporting_consumer") as url:
        db = Database(url, "reporting")
        try:
            schema.install(db)
            db.execute_script(OFFSETS_DDL)
            sink = ProjectionSink(db, CONSUMER, scope=batch_scope, prepare=prepare_batch(PARTITIONS))
            _apply(sink, school_items, batch)
            if profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            rate, per_cpu = _apply(sink, enrolment_items, batch)
            if profile:
                profiler.disable()
                profiler.dump_stats(profile)
        finally:
            db.close()
    print(f"reporting consumer, polls of {batch}, {len(schools):,} schools:")
    print(f"  first enrolments: {len(enrolments):,} → {rate:,.0f} messages/s, {per_cpu:,.0f} per CPU-second")


if __name__ == "__main__":
    app()
