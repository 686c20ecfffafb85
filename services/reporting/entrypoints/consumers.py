"""Reporting policies: every event of the topics it reads goes into the inbox and, once, into the read models
(ProjectionSink: (message, conn), in the consumer's transaction with its position)."""

from __future__ import annotations

import zlib
from collections import Counter
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterable, Iterator

import psycopg

from contracts import registry, topics
from contracts.events.registry import SchoolTownshipChangedV1, StudentEnrolledV1, StudentErasedV1
from services.reporting.adapters import erasure, inbox
from services.reporting.adapters.counters import CountingStore
from services.reporting.adapters.positions import CONSUMER  # noqa: F401 - the name the bootstrap runs it under
from services.reporting.adapters.projections import BY_NAME
from services.reporting.adapters.project_registry import first_enrolment_row
from services.reporting.adapters.projectors import advance, project, reduce
from services.reporting.adapters.stores import BufferedSqlStore, SqlStore
from services.runtime.consumer import Message

TOPICS = [topics.REGISTRY, topics.ATTENDANCE, topics.CASEWORK]
DEFAULT_PARTITIONS = 6


class Batch:
    """What one consumer transaction shares: one counting store over a buffered SQL store (rows read many at a
    time, written back and counter differences summed once at the end), and the events ``prepare`` kept in the
    inbox with one statement (only those new to the inbox are projected)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.store = CountingStore(BufferedSqlStore(conn))
        self.events: dict[int, inbox.Event] = {}
        self.fresh: set[tuple[str, int]] = set()
        self.erased: list[str] = []  # students erased in this batch: scrubbed after its rows are written
        self.latest: dict[str, inbox.Event] = {}  # topic -> its projected event of the highest sequence

    def projected(self, event: inbox.Event) -> None:
        """A projected event's topic position, moved once per topic when the batch ends (``advance`` of every
        event keeps the highest sequence: the same row, one read and write instead of one per event)."""
        latest = self.latest.get(event.topic)
        if latest is None or latest.sequence < event.sequence:
            self.latest[event.topic] = event


_batch: ContextVar[Batch | None] = ContextVar("reporting_batch", default=None)


@contextmanager
def batch_scope(conn: psycopg.Connection) -> Iterator[None]:
    """One ``Batch`` for a whole consumer transaction; its rows and counters are written on the way out (a batch
    of 500 enrolments at one school is one counter update and one upsert per table, not 500 of each)."""
    batch = Batch(conn)
    token = _batch.set(batch)
    try:
        yield
        for event in batch.latest.values():
            advance(batch.store, event)
        batch.store.flush()
        for student_id in batch.erased:
            erasure.scrub(conn, student_id)
    finally:
        _batch.reset(token)


_NAMES_KEY: dict[tuple[type, str], bool] = {}  # (contract, table): the contract has a field for each key column


def _by_type(payloads: Iterable[Any]) -> dict[type, list[Any]]:
    """Payloads grouped by contract, in their order (each table's key fields are looked up once per contract)."""
    out: dict[type, list[Any]] = {}
    for p in payloads:
        group = out.get(type(p))
        if group is None:
            group = out[type(p)] = []
        group.append(p)
    return out


def _keys(table: str, payloads: list[Any] | dict[type, list[Any]],
          memo: dict[tuple[str, ...], list[tuple[Any, ...]]] | None = None) -> list[tuple[Any, ...]]:
    """The keys of ``table`` that payloads name with attributes of the key's names (a case event's student_id →
    its student row); ``payloads`` as they come or grouped by ``_by_type``; ``memo``: the keys already looked up
    for tables of the same key columns (students and special groups: student_id), shared, not to be changed."""
    key = BY_NAME[table].key
    if memo is not None and key in memo:
        return memo[key]
    out: list[tuple[Any, ...]] = []
    if memo is not None:
        memo[key] = out
    for contract, group in (payloads if isinstance(payloads, dict) else _by_type(payloads)).items():
        if (contract, table) not in _NAMES_KEY:
            _NAMES_KEY[(contract, table)] = set(key) <= contract.model_fields.keys()
        if not _NAMES_KEY[(contract, table)]:
            continue
        if len(key) == 1:
            name = key[0]
            out.extend((v,) for v in (getattr(p, name) for p in group) if v is not None)
            continue
        for p in group:
            values = tuple(getattr(p, k) for k in key)
            if all(v is not None for v in values):
                out.append(values)
    return out


# Counted rows of one child read each other's rows: a case counts under its student's grade (and special groups),
# a grade or group change recounts the student's cases and findings. Those rows arrive on different topics and
# partitions, so with replicas two members write them in concurrent transactions, and each one's difference is
# computed from what it read before the other committed (a case returned while its child was admitted to grade 7
# was retracted under primary by one member and moved to junior by the other: confirmed_primary -1). Every
# transaction that projects registry or casework events of a child first takes a transaction lock per child, in
# one sorted statement (so two members never wait on each other in a cycle), before it reads any row: the second
# of two such transactions reads what the first committed. Attendance's rows (absences, days, detections) are
# counted from their own row alone and take none.
STUDENT_LOCKS = zlib.crc32(b"baoxue-reporting-counted-student") - 2**31  # the class key of pg_advisory_xact_lock(int, int)
LOCKED_TOPICS = (topics.REGISTRY, topics.CASEWORK)


def _int4(text: str) -> int:
    return zlib.crc32(text.encode()) - 2**31


def lock_students(conn: psycopg.Connection, student_ids: Iterable[str]) -> None:
    """Transaction locks on these children's counted rows, taken in ascending key order in one statement (an
    unnest scan returns the array's order); released at commit or rollback."""
    keys = sorted({_int4(s) for s in student_ids if s})
    if keys:
        conn.execute("SELECT pg_advisory_xact_lock(%s, k) FROM unnest(%b::int[]) AS k", (STUDENT_LOCKS, keys))


def _counted_students(payloads: Iterable[Any]) -> list[str]:
    return [s for p in payloads
            if p.topic in LOCKED_TOPICS and _names(type(p), "student_id") and (s := getattr(p, "student_id", None))]


_FIELDS: dict[tuple[type, str], bool] = {}


def _names(contract: type, field: str) -> bool:
    """Whether the contract may have the field (looked up once: ``getattr`` of a missing one raises inside
    pydantic); True for what is not a pydantic model."""
    found = _FIELDS.get((contract, field))
    if found is None:
        fields = getattr(contract, "model_fields", None)
        found = _FIELDS[(contract, field)] = fields is None or field in fields
    return found


PRELOADED = ("students", "special_groups", "schools", "ledger", "findings", "suspected", "absences", "school_days",
             "chronic_absences")


def prepare_batch(partitions: int) -> Callable[[psycopg.Connection, list[Message]], None]:
    """Keeps the batch's events in the inbox with one statement and loads the rows they name, one query a table."""

    def prepare(conn: psycopg.Connection, messages: list[Message]) -> None:
        batch = _batch.get()
        if batch is None or batch.conn is not conn:
            return
        lock_students(conn, _counted_students(m.payload for m in messages))  # before any row is read
        events = [inbox.event_of(m, partitions) for m in messages]
        batch.fresh |= inbox.record_many(conn, messages, events)
        batch.events.update((id(m), e) for m, e in zip(messages, events))
        payloads = _by_type(m.payload for m, e in zip(messages, events) if (e.topic, e.sequence) in batch.fresh)
        memo: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for table in PRELOADED:
            batch.store.preload(table, _keys(table, payloads, memo))
        batch.store.preload("applied_positions", [(t,) for t in {e.topic for e in events}])
        batch.store.preload_cases(k[0] for k in _keys("students", payloads, memo))
        if not batch.store.all_moves:
            batch.store.preload_moves()
        first_enrolments(batch, events)

    return prepare


def first_enrolments(batch: Batch, events: list[inbox.Event]) -> None:
    """The batch path for first enrolments, the bulk of an onboarding: a fresh ``StudentEnrolledV1`` of a child
    with no row, groups or cases yet, at a school that never moved (``CountingStore.put_first_student`` knows it
    from the batch's preloads), and the only fresh event of the batch that names the child, is projected here at
    once — its row and counts as ``student_enrolled`` leaves them, its topic position with the batch's — and its
    policy then has nothing left to do. Applying it before the batch's other events changes nothing: none of them
    reads or counts the child's rows (those that name the child are excluded; a school move, which recounts a whole
    school, turns the path off for the batch). Equal effects: ``test_batched_equals_one_at_a_time_postgres``."""
    fresh = [e for e in events if (e.topic, e.sequence) in batch.fresh]
    if not any(type(e.payload) is StudentEnrolledV1 for e in fresh) or any(
            type(e.payload) is SchoolTownshipChangedV1 for e in fresh):
        return
    named = Counter(s for e in fresh if _names(type(e.payload), "student_id")
                    and (s := getattr(e.payload, "student_id", None)))
    for e in fresh:
        if type(e.payload) is StudentEnrolledV1 and named[e.payload.student_id] == 1 \
                and batch.store.put_first_student(first_enrolment_row(e)):
            batch.fresh.discard((e.topic, e.sequence))  # projected: its policy passes over it
            batch.projected(e)


def when_any_event_keep_and_project(partitions: int) -> Callable[[Message, psycopg.Connection], None]:
    """Keeps the event in the inbox (the history rebuilds replay) and applies it unless the inbox had it."""

    def policy(message: Message, conn: psycopg.Connection) -> None:
        batch = _batch.get()
        if isinstance(message.payload, StudentErasedV1) and batch is not None and batch.conn is conn:
            batch.erased.append(message.payload.student_id)  # scrubbed once the batch's rows are written
        if batch is not None and batch.conn is conn and id(message) in batch.events:
            event = batch.events.pop(id(message))
            position = (event.topic, event.sequence)
            if position in batch.fresh:  # prepared: in the inbox already; projected once
                batch.fresh.discard(position)
                reduce(batch.store, event)
                batch.projected(event)
            return
        event = inbox.event_of(message, partitions)
        if batch is None or batch.conn is not conn:
            lock_students(conn, _counted_students([message.payload]))
        if inbox.record(conn, message, event):
            if batch is not None and batch.conn is conn:
                project(batch.store, event)
                return
            store = CountingStore(SqlStore(conn))
            project(store, event)
            store.flush()
            if isinstance(message.payload, StudentErasedV1):
                erasure.scrub(conn, message.payload.student_id)

    return policy


def policies(partitions: int = DEFAULT_PARTITIONS) -> dict[type, Any]:
    """One policy for every contract published on the topics reporting reads."""
    policy = when_any_event_keep_and_project(partitions)
    return {c: policy for c in registry().values() if c.topic in TOPICS}


POLICIES = policies()
