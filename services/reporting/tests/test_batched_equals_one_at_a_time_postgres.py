"""The reporting consumer's batch path has the effects of applying its messages one at a time: the same messages
(a whole synthetic history of registry, attendance and casework events, with redeliveries, a school move, group
changes, grade changes and an erasure) through ``ProjectionSink.apply`` (one transaction each, unbuffered stores)
and through ``apply_batch`` in small polls (each table's rows in one unnest statement) and in large ones (the
inbox and the rows by COPY through temporary tables) leave the same inbox, read models, counters and positions."""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from bench.reporting import synthetic
from contracts.events import registry as r
from services.reporting.adapters import counters, inbox, projections, stores
from services.reporting.entrypoints.consumers import CONSUMER, batch_scope, policies, prepare_batch
from services.runtime.consumer import OFFSETS_DDL, Message, ProjectionSink
from services.runtime.db import Database
from services.runtime.kafka import partition_for
from services.runtime.testing import message

pytestmark = pytest.mark.integration
PARTITIONS = 6
LATER = datetime(2026, 3, 2, 4, 0, tzinfo=timezone.utc)
Item = tuple[str, int, Any, Message]


@pytest.fixture
def databases(database_url):
    """Three reporting schemas of their own (without the BI views, which name the schema reporting): one message
    at a time, polls of 7, polls of 300."""
    dbs = [Database(database_url, f"reporting_eq_{uuid.uuid4().hex[:10]}") for _ in range(3)]
    for db in dbs:
        db.execute_script(inbox.DDL + projections.ddl() + projections.MIGRATIONS + OFFSETS_DDL)
    yield dbs
    for db in dbs:
        with db.transaction() as conn:
            conn.execute(f"DROP SCHEMA {db.schema} CASCADE")
        db.close()


def later_events(rows: dict[str, list[dict]]) -> list[tuple[Any, str]]:
    """What follows the history: a school moves township, children change groups and grades, one is erased, one
    enrolment is sent again with a new class (each with the subject the relay would key it by)."""
    school, other = rows["schools"][0], rows["schools"][1]
    students = [s for s in rows["students"] if s["school_id"] == school["school_id"]]
    cased = {c["student_id"] for c in rows["ledger"]}
    with_case = next(s for s in rows["students"] if s["student_id"] in cased)
    erased, regraded, grouped = students[0], with_case, students[1]
    return [
        (r.SchoolTownshipChangedV1(school_id=school["school_id"], from_township_code=school["township_code"],
                                   township_code=other["township_code"], county_code=other["county_code"],
                                   effective=date(2025, 11, 1), reason="township_merged",
                                   division_code=school["township_code"]), school["school_id"]),
        (r.SpecialGroupsChangedV1(student_id=grouped["student_id"], township_code=grouped["township_code"], groups=[
            r.SpecialGroup(group="orphan", since=date(2025, 9, 20), until=date(2025, 11, 1), source="civil_affairs"),
            r.SpecialGroup(group="migrant", since=date(2025, 10, 1), source="civil_affairs")]),
         grouped["student_id"]),
        (r.StudentAdmittedV1(student_id=regraded["student_id"], school_id=other["school_id"],
                             county_code=other["county_code"], township_code=other["township_code"], grade=7,
                             class_name="7(1)班", on=date(2026, 3, 1)), regraded["student_id"]),
        (r.StudentResumedV1(student_id=grouped["student_id"], school_id=school["school_id"],
                            township_code=other["township_code"], on=date(2026, 2, 1), grade=5),
         grouped["student_id"]),
        (r.StudentErasedV1(student_id=erased["student_id"], township_code=erased["township_code"],
                           legal_basis="order", erased_on=date(2026, 3, 1)), erased["student_id"]),
        (r.StudentEnrolledV1(student_id=students[2]["student_id"], school_id=school["school_id"],
                             county_code=school["county_code"], township_code=school["township_code"],
                             grade=students[2]["grade"], class_name="3(9)班", name_masked="王*",
                             id_number_masked="520101********0009"), students[2]["student_id"]),
    ]


def onboarding(rows: dict[str, list[dict]], students: int) -> list[Any]:
    """First enrolments of new students at the known schools (a poll of them writes its rows in one flush)."""
    schools = rows["schools"]
    return [r.StudentEnrolledV1(
        student_id=f"new-{n:04d}", school_id=(k := schools[n % len(schools)])["school_id"], county_code=k["county_code"],
        township_code=k["township_code"], grade=1 + n % 6, class_name=f"{1 + n % 6}(1)班", name_masked="赵*",
        id_number_masked=f"{k['county_code']}********{n:04d}", head_teacher_id=None if n % 3 else f"ht-{n}")
        for n in range(students)]


class Numbering:
    """Sink items as the consumer loop hands them over: each message on its subject's partition, with the next
    sequence of its topic (the relay's)."""

    def __init__(self) -> None:
        self.sequences: dict[str, int] = {}
        self.policies = policies(PARTITIONS)

    def item(self, payload: Any, subject: str, at: datetime) -> Item:
        sequence = self.sequences[payload.topic] = self.sequences.get(payload.topic, 0) + 1
        m = message(payload, subject=subject, sequence=sequence, time=at, id=f"e-{payload.topic}-{sequence}",
                    correlationid=f"c-{sequence}")
        track = f"{CONSUMER}:{payload.topic}:{partition_for(subject, PARTITIONS)}"
        return track, sequence, self.policies[type(payload)], m


def interleaved(items: list[Item], seed: int) -> list[Item]:
    """Partitions interleaved at random, each partition's messages in order (what a poll reads)."""
    queues: dict[str, list[Item]] = {}
    for item in items:
        queues.setdefault(item[0], []).append(item)
    rng, out = random.Random(seed), []
    while queues:
        track = rng.choice(sorted(queues))
        out.append(queues[track].pop(0))
        if not queues[track]:
            del queues[track]
    return out


def sink(db: Database) -> ProjectionSink:
    return ProjectionSink(db, CONSUMER, scope=batch_scope, prepare=prepare_batch(PARTITIONS))


def apply(db: Database, items: list[Item], poll: int | None) -> None:
    s = sink(db)
    if poll is None:
        for item in items:
            s.apply(*item)
        return
    for i in range(0, len(items), poll):
        s.apply_batch(items[i:i + poll])


def snapshot(db: Database) -> dict[str, list[dict]]:
    out = {}
    with db.transaction() as conn:
        for t in projections.READ_MODELS:
            out[t.name] = conn.execute(f"SELECT * FROM {t.name} ORDER BY {', '.join(t.key)}").fetchall()
        out["inbox"] = conn.execute(
            f"SELECT {', '.join(inbox.INBOX_COLUMNS)} FROM inbox ORDER BY topic, sequence").fetchall()
        out["consumer_positions"] = conn.execute(
            "SELECT * FROM consumer_positions ORDER BY consumer, topic, partition").fetchall()
    return out


def test_polls_small_and_large_leave_what_one_message_at_a_time_leaves(databases, monkeypatch):
    one, small, large = databases
    numbering = Numbering()
    history = [numbering.item(g.payload, g.subject, g.time)
               for g in synthetic.history(seed=11, prefectures=2, counties=2, townships=2, schools=2, students=25)]
    history = interleaved(history, seed=3)
    assert len(history) >= 2 * 300 and len({t for t, *_ in history}) > 6
    apply(one, history, None)
    first = snapshot(one)
    assert len(first["students"]) == 2 * 2 * 2 * 2 * 25 and len(first["ledger"]) > 40

    later = [numbering.item(p, subject, LATER + timedelta(minutes=n))
             for n, (p, subject) in enumerate(later_events(first))]
    redelivered = history[-40:]  # the end of the history read again (at or below each partition's position)
    republished = [numbering.item(m.payload, m.envelope.subject, LATER + timedelta(hours=1))  # new sequences
                   for _t, _s, _p, m in history[100:180]]
    onboarded = [numbering.item(p, p.student_id, LATER + timedelta(hours=2)) for p in onboarding(first, 150)]
    rest = interleaved(later + republished, seed=5) + onboarded
    apply(one, redelivered + rest, None)
    expected = snapshot(one)

    copied: list[str] = []  # the tables each COPY path wrote (the large polls must take it, the small ones not)
    upsert, record = stores._copied_upsert, inbox._copied
    monkeypatch.setattr(stores, "_copied_upsert", lambda conn, t, rows: (copied.append(t.name), upsert(conn, t, rows)))
    monkeypatch.setattr(inbox, "_copied", lambda conn, rows: (copied.append("inbox"), record(conn, rows))[1])
    fast: list[bool] = []  # the batch path for first enrolments: taken, and passed over where it must not be
    put_first = counters.CountingStore.put_first_student
    monkeypatch.setattr(counters.CountingStore, "put_first_student",
                        lambda store, row: (fast.append(taken := put_first(store, row)), taken)[1])
    for db, poll in ((small, 7), (large, 1000)):
        copied.clear()
        fast.clear()
        apply(db, history, poll)
        apply(db, redelivered + rest, poll)
        got = snapshot(db)
        for name in expected:
            assert got[name] == expected[name], (poll, name)
        assert ({"inbox", "students"} <= set(copied)) if poll > 7 else not copied, (poll, sorted(set(copied)))
        assert sum(fast) > 100 and not all(fast), (poll, sum(fast), len(fast))
    erased = next(p.student_id for p, _ in later_events(first) if isinstance(p, r.StudentErasedV1))
    row = next(s for s in expected["students"] if s["student_id"] == erased)
    assert (row["name_masked"], row["id_number_masked"]) == ("*", None)
    assert expected["school_moves"] and expected["special_groups"]
