"""Client CPU per message of the casework and notifications consumers' sinks on onboarding (``StudentEnrolledV1``
only): the same messages through ``EventSink.apply_batch`` in polls as the loop makes them, without the broker, so
the figure is the service's share of a message (policy, unit of work, writes), not the loop's.

``BAOXUE_BENCH_DATABASE_URL=postgresql://... .venv/bin/python -m bench.sinks --students 20000``; printed, never
asserted.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Callable

from contracts.events import StudentEnrolledV1
from services.runtime.consumer import EventSink, Message
from services.runtime.eventstore import build_application
from services.runtime import process
from services.runtime.scratchdb import fresh_database
from services.runtime.testing import message

TOWNSHIP = "520102001"


def enrolments(students: int, prefix: str) -> list[tuple[str, Message]]:
    """One enrolment per student over 24 partitions of the registry topic, as the relay publishes them."""
    sequences: dict[str, int] = {}
    out = []
    for n in range(students):
        student = str(uuid.uuid4())
        track = f"{prefix}:baoxue.registry.v1:{n % 24}"
        sequences[track] = sequences.get(track, 0) + 1
        payload = StudentEnrolledV1(student_id=student, school_id=f"school-{n % 300}", county_code=TOWNSHIP[:6],
                                    township_code=TOWNSHIP, grade=1 + n % 9, class_name=f"{1 + n % 9}({n % 6})班",
                                    name_masked="张*", id_number_masked="5201**********1234",
                                    head_teacher_id=f"ht-{n % 2000}", head_teacher_name="李老师")
        out.append((track, message(payload, subject=student, sequence=sequences[track],
                                   time=datetime(2026, 9, 1, tzinfo=UTC))))
    return out


def measure(name: str, app: Any, policy: Callable[[Message], Any], students: int, poll: int) -> None:
    messages = enrolments(students, name)
    sink = EventSink(app)
    process.settle_heap()  # as the consumer process does before its loop (the collector would walk start-up's objects)
    started, wall = time.process_time(), time.perf_counter()
    for start in range(0, len(messages), poll):
        sink.apply_batch([(track, msg.envelope.sequence, policy, msg) for track, msg in messages[start:start + poll]])
    cpu, wall = time.process_time() - started, time.perf_counter() - wall
    print(f"  {name}-sink: {students:,} enrolments in polls of {poll:,}: {cpu / students * 1e6:,.1f} µs client CPU "
          f"a message ({students / cpu:,.0f} per CPU-second; wall {students / wall:,.0f}/s)")


def measure_reporting(db_url: str, students: int, poll: int) -> None:
    """The reporting consumer's sink (``ProjectionSink`` with its batch scope and prepare) on the same enrolments,
    after the schools they name were registered."""
    from contracts.events import SchoolRegisteredV1
    from services.reporting.adapters import inbox, projections
    from services.reporting.entrypoints.consumers import CONSUMER, batch_scope, policies, prepare_batch
    from services.runtime.consumer import OFFSETS_DDL, ProjectionSink
    from services.runtime.db import Database

    db = Database(db_url, "reporting")
    db.execute_script(inbox.DDL + projections.ddl() + projections.MIGRATIONS + OFFSETS_DDL)
    sink = ProjectionSink(db, CONSUMER, scope=batch_scope, prepare=prepare_batch(24))
    policy = policies(24)[StudentEnrolledV1]
    schools = [(f"{CONSUMER}:baoxue.registry.v1:0", n + 1, policy, message(SchoolRegisteredV1(
        school_id=f"school-{n}", code=f"S{n:03d}", name=f"第{n}小学", level="primary", county_code=TOWNSHIP[:6],
        township_code=TOWNSHIP), subject=f"school-{n}", sequence=n + 1, time=datetime(2026, 8, 1, tzinfo=UTC)))
        for n in range(300)]
    sink.apply_batch(schools)
    # the inbox keys events by topic sequence: one sequence across the topic, as the relay numbers them
    messages = [(f"{CONSUMER}:baoxue.registry.v1:{n % 24}", message(
        m.payload, subject=m.envelope.subject, sequence=301 + n, time=m.envelope.time))
        for n, (_track, m) in enumerate(enrolments(students, "reporting"))]
    process.settle_heap()  # as the consumer process does before its loop (the collector would walk start-up's objects)
    started, wall = time.process_time(), time.perf_counter()
    for start in range(0, len(messages), poll):
        sink.apply_batch([(track, m.envelope.sequence, policy, m) for track, m in messages[start:start + poll]])
    cpu, wall = time.process_time() - started, time.perf_counter() - wall
    print(f"  reporting-sink: {students:,} enrolments in polls of {poll:,}: {cpu / students * 1e6:,.1f} µs client CPU "
          f"a message ({students / cpu:,.0f} per CPU-second; wall {students / wall:,.0f}/s)")
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--poll", type=int, default=2_000)
    parser.add_argument("--only", choices=("casework", "notifications", "reporting"), default=None)
    args = parser.parse_args()
    url = os.environ["BAOXUE_BENCH_DATABASE_URL"]
    from services.casework.application import CaseworkApp
    from services.casework.entrypoints.consumers import policies as casework_policies
    from services.casework.settings import CaseworkSettings
    from services.notifications.adapters.channels import FileChannel
    from services.notifications.application import NotificationsApp
    from services.notifications.application.policies import NotificationPolicies
    from services.notifications.entrypoints.consumers import policies as notification_policies
    from services.notifications.settings import NotificationsSettings
    from services.runtime.clock import FixedClock

    with fresh_database(url, "bench_sinks") as db_url, tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "reporting"):
            measure_reporting(db_url, args.students, args.poll)
        if args.only == "reporting":
            return
        casework = build_application(CaseworkApp, CaseworkSettings(database_url=db_url, env="test"), "casework")
        measure("casework", casework, casework_policies(casework)[StudentEnrolledV1], args.students, args.poll)
        casework.close()
        settings = NotificationsSettings(database_url=db_url, env="test", data_dir=Path(tmp))
        notifications = build_application(NotificationsApp, settings, "notifications")
        clock = FixedClock(datetime(2026, 9, 1, tzinfo=UTC))
        bound = notification_policies(NotificationPolicies(notifications, FileChannel(Path(tmp), clock.now), clock))
        measure("notifications", notifications, bound[StudentEnrolledV1], args.students, args.poll)
        notifications.close()


if __name__ == "__main__":
    main()
