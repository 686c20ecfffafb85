"""Reporting fixtures: the read models on a real PostgreSQL, emptied before each test."""

from __future__ import annotations

import contextlib
import itertools
import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from contracts import topics
from contracts.events import CaseOpenedV1, SchoolRegisteredV1, StudentEnrolledV1
from services.reporting.adapters import projections, schema
from services.reporting.entrypoints.consumers import CONSUMER, DEFAULT_PARTITIONS, POLICIES, batch_scope, prepare_batch
from services.runtime.consumer import OFFSETS_DDL, ProjectionSink
from services.runtime.db import Database
from services.runtime.kafka import partition_for
from services.runtime.testing import message

T0 = datetime(2025, 9, 15, 8, 0, tzinfo=timezone.utc)


class Feed:
    """Delivers contracts to the reporting policies the way the consumer loop does (one partition per topic)."""

    def __init__(self, db: Database) -> None:
        self.sink = ProjectionSink(db, CONSUMER, scope=batch_scope, prepare=prepare_batch(DEFAULT_PARTITIONS))
        self.sequences = {t: itertools.count(1) for t in topics.ALL}

    def deliver(self, payload, sequence: int | None = None, subject: str | None = None, at: datetime | None = None,
                apply: bool = True):
        """Delivers now (or, with apply=False, returns the sink item for a batch the test orders itself)."""
        sequence = sequence if sequence is not None else next(self.sequences[payload.topic])
        partition = partition_for(subject, 6) if subject else 0
        track = f"{CONSUMER}:{payload.topic}:{partition}"
        fields = {"time": at} if at else {}
        msg = message(payload, sequence=sequence, subject=subject or str(uuid.uuid4()), **fields)
        item = (track, sequence, POLICIES[type(payload)], msg)
        return self.sink.apply(*item) if apply else item

    def history(self, events) -> None:
        """Delivers generated events as the consumer would: per partition in order, partitions interleaved."""
        queues: dict[str, list] = {}
        for g in events:
            item = self.deliver(g.payload, subject=g.subject, at=g.time, apply=False)
            queues.setdefault(item[0], []).append(item)
        rng = random.Random(7)
        batch = []
        while queues:
            track = rng.choice(sorted(queues))
            batch.append(queues[track].pop(0))
            if not queues[track]:
                del queues[track]
            if len(batch) >= 300:
                self.sink.apply_batch(batch)
                batch = []
        if batch:
            self.sink.apply_batch(batch)

    def school(self, township: str, name: str = "第一中学") -> str:
        school_id = str(uuid.uuid4())
        self.deliver(SchoolRegisteredV1(
            school_id=school_id, code=school_id[:8], name=name, level="junior", county_code=township[:6],
            township_code=township,
        ))
        return school_id

    def student(self, school_id: str, township: str, name_masked: str = "张*丰") -> str:
        student_id = str(uuid.uuid4())
        self.deliver(StudentEnrolledV1(
            student_id=student_id, school_id=school_id, county_code=township[:6], township_code=township, grade=7,
            class_name="7(1)班", name_masked=name_masked, id_number_masked=township[:6] + "********1234",
        ))
        return student_id

    def case(self, student_id: str, school_id: str | None, township: str, minutes: int = 0) -> CaseOpenedV1:
        case = CaseOpenedV1(
            case_id=str(uuid.uuid4()), student_id=student_id, school_id=school_id, township_code=township,
            source="attendance", trigger_id=str(uuid.uuid4()), opened_at=T0 + timedelta(minutes=minutes),
        )
        self.deliver(case)
        return case


@pytest.fixture(scope="session")
def reporting_db(database_url):
    db = Database(database_url, "reporting")
    schema.install(db)
    db.execute_script(OFFSETS_DDL)
    yield db
    db.close()


@pytest.fixture
def feed(reporting_db) -> Feed:
    with reporting_db.transaction() as conn:
        conn.execute(f"TRUNCATE inbox, {', '.join(projections.TABLES)}")
        for table in ("monthly_reports", "monthlyreports_events"):  # the report store and its index, once created
            if conn.execute("SELECT to_regclass(%s) AS t", (table,)).fetchone()["t"]:
                conn.execute(f"TRUNCATE {table}")
        conn.execute("DELETE FROM consumer_positions WHERE consumer = %s", (CONSUMER,))
    return Feed(reporting_db)


@contextlib.contextmanager
def served(app):
    """The app on a real port in a thread (for the browser), stopped afterwards; yields its base URL."""
    import threading
    import time

    import httpx
    import uvicorn

    from services.runtime.infra import free_port

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)
