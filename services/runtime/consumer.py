"""The consumer loop: applies each message's effect exactly once and never blocks a partition.

Partitions are assigned explicitly (no consumer-group rebalances); one active consumer per
service and consumer name holds a PostgreSQL advisory lock. The position that matters is the
source sequence per topic partition, committed in the same transaction as the effect (a sink).
Kafka offsets are only a hint for where to resume: a gap in the sequence chain (a broker that
lost and was refilled) rewinds the partition to its start, and duplicates are skipped by sequence.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from contextlib import nullcontext
from typing import Any, Callable, ContextManager, Iterable, Protocol

import psycopg
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from eventsourcing.persistence import IntegrityError as ConcurrencyError
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from eventsourcing.persistence import Tracking
from pydantic import ValidationError

from contracts import Contract, Envelope, contract_for_type, topics
from services.runtime import logging as rlog
from services.runtime.db import Database, Leadership
from services.runtime.kafka import decode, ensure_topics, partition_for
from services.runtime.metrics import Metrics

POLL_WAIT_S = 0.2  # a poll gathers a batch this long (unless it fills first)

OFFSETS_DDL = """
CREATE TABLE IF NOT EXISTS consumer_offsets (
    consumer text NOT NULL, topic text NOT NULL, partition int NOT NULL, next_offset bigint NOT NULL,
    cluster_id text NOT NULL DEFAULT '', PRIMARY KEY (consumer, topic, partition)
);
CREATE TABLE IF NOT EXISTS consumer_positions (
    consumer text NOT NULL, topic text NOT NULL, partition int NOT NULL, sequence bigint NOT NULL,
    PRIMARY KEY (consumer, topic, partition)
);
"""


class TransientError(Exception):
    """A failure worth retrying (database or network), never dead-lettered."""


class BatchConflict(Exception):
    """A batch lost a race on one of its aggregates: its messages are applied again one at a time."""


RETRYABLE = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    StoreOperationalError,
    StoreInterfaceError,
    ConcurrencyError,
    TransientError,
)


class Sink(Protocol):
    """Where effects land, atomically with the consumer's position."""

    def last_applied(self, track: str) -> int: ...

    def apply(self, track: str, sequence: int, policy: Callable[..., Any], message: "Message") -> bool: ...

    def skip(self, track: str, sequence: int) -> None: ...

    def skip_many(self, positions: list[tuple[str, int]]) -> None: ...


class EventSink:
    """Effects are aggregates saved to the service's event store with a tracking record.

    A policy may declare the ids of the aggregates it loads for a message (``services.runtime.eventstore.loads``,
    read from the policy or, for a ``functools.partial``, from its function): ``apply_batch`` reads all of them in
    one query before the first policy runs instead of one query per message."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def last_applied(self, track: str) -> int:
        return self.app.last_tracked(track)

    def apply(self, track: str, sequence: int, policy: Callable[["Message"], Iterable[Any]], message: "Message") -> bool:
        aggregates = [a for a in policy(message) or () if a is not None]
        return self.app.save_tracked(*aggregates, tracking=Tracking(track, sequence))

    def skip(self, track: str, sequence: int) -> None:
        self.app.save_tracked(tracking=Tracking(track, sequence))

    def apply_batch(self, items: list[tuple[str, int, Callable[..., Any], "Message"]]) -> None:
        """Applies many messages as one unit of work (each policy sees what the earlier ones changed) and saves
        every event and position in one transaction; all or nothing."""
        with self.app.batch() as batch:
            batch.prefetch(aggregate_id for _track, _sequence, policy, message in items
                           for aggregate_id in self._loads(policy, message))
            for track, sequence, policy, message in items:
                batch.add(policy(message) or (), Tracking(track, sequence))
            try:
                self.app.save_batch(batch)
            except ConcurrencyError as exc:  # an API request changed one of its aggregates meanwhile
                raise BatchConflict(str(exc)) from exc

    @staticmethod
    def _loads(policy: Callable[..., Any], message: "Message") -> Iterable[Any]:
        ids = getattr(policy, "loads", None) or getattr(getattr(policy, "func", None), "loads", None)
        return ids(message) if ids is not None else ()

    def skip_many(self, positions: list[tuple[str, int]]) -> None:
        """Moves positions past messages this consumer has no policy for, in one transaction."""
        try:
            with self.app.batch() as batch:
                for track, sequence in positions:
                    batch.add((), Tracking(track, sequence))
                self.app.save_batch(batch)
        except ConcurrencyError:  # a position already there (or past it): one at a time, as ``skip`` tolerates
            for track, sequence in positions:
                self.skip(track, sequence)


class ProjectionSink:
    """Effects are rows written through one connection, committed with the position.

    ``scope`` (optional) is entered around each transaction with its connection: a consumer keeps what its
    policies share across one batch there (a row cache, counters summed once) and writes it on the way out.
    ``prepare`` (optional) is called inside the scope with the messages about to be applied (those past their
    partition's position, in order), before the first policy: a consumer loads the rows a batch will touch in one
    query there instead of one query per message."""

    def __init__(self, db: Database, consumer: str,
                 scope: Callable[[psycopg.Connection], ContextManager[Any]] | None = None,
                 prepare: Callable[[psycopg.Connection, list["Message"]], None] | None = None) -> None:
        self.db = db
        self.consumer = consumer
        self.scope = scope or (lambda _conn: nullcontext())
        self.prepare = prepare
        db.execute_script(OFFSETS_DDL)

    def _split(self, track: str) -> tuple[str, int]:
        _, topic, partition = track.rsplit(":", 2)
        return topic, int(partition)

    def last_applied(self, track: str) -> int:
        topic, partition = self._split(track)
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT sequence FROM consumer_positions WHERE consumer=%s AND topic=%s AND partition=%s",
                (self.consumer, topic, partition),
            ).fetchone()
        return row["sequence"] if row else 0

    def _positions(self, conn: psycopg.Connection, tracks: Iterable[str]) -> dict[str, int]:
        """The committed positions of these partitions, locked until the transaction ends."""
        split = [self._split(t) for t in tracks]
        rows = conn.execute(
            "SELECT topic, partition, sequence FROM consumer_positions WHERE consumer = %s AND (topic, partition) IN "
            "(SELECT * FROM unnest(%s::text[], %s::int[])) FOR UPDATE",
            (self.consumer, [t for t, _ in split], [p for _, p in split]),
        ).fetchall()
        found = {(r["topic"], r["partition"]): r["sequence"] for r in rows}
        return {track: found.get(tp, 0) for track, tp in zip(tracks, split)}

    def _advance(self, conn: psycopg.Connection, track: str, sequence: int) -> bool:
        topic, partition = self._split(track)
        row = conn.execute(
            "INSERT INTO consumer_positions AS p (consumer, topic, partition, sequence) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (consumer, topic, partition) DO UPDATE SET sequence = EXCLUDED.sequence "
            "WHERE p.sequence < EXCLUDED.sequence RETURNING sequence",
            (self.consumer, topic, partition, sequence),
        ).fetchone()
        return row is not None

    def apply(
        self, track: str, sequence: int, policy: Callable[["Message", psycopg.Connection], None], message: "Message"
    ) -> bool:
        with self.db.transaction() as conn, self.scope(conn):
            if not self._advance(conn, track, sequence):
                return False
            if self.prepare is not None:
                self.prepare(conn, [message])
            policy(message, conn)
        return True

    def skip(self, track: str, sequence: int) -> None:
        self.skip_many([(track, sequence)])

    def skip_many(self, positions: list[tuple[str, int]]) -> None:
        """Moves positions past messages this consumer has no policy for, in one transaction."""
        with self.db.transaction() as conn:
            for track, sequence in positions:
                self._advance(conn, track, sequence)

    def apply_batch(self, items: list[tuple[str, int, Callable[..., None], "Message"]]) -> None:
        """Applies many messages in one transaction (15-20x faster than one each); all or nothing. Positions are
        read once and written once per partition; a message at or below its partition's position is passed over."""
        with self.db.transaction() as conn, self.scope(conn):
            before = self._positions(conn, list(dict.fromkeys(track for track, *_ in items)))
            last, todo = dict(before), []
            for track, sequence, policy, message in items:
                if sequence > last[track]:
                    todo.append((policy, message))
                    last[track] = sequence
            if self.prepare is not None and todo:
                self.prepare(conn, [message for _policy, message in todo])
            for policy, message in todo:
                policy(message, conn)
            for track, sequence in last.items():
                if sequence > before[track]:
                    self._advance(conn, track, sequence)


@dataclass(frozen=True)
class Head:
    """What a message's CloudEvents headers say, read without parsing the message: enough to keep the partition's
    sequence chain for a message no policy wants."""

    type: str
    subject: str
    sequence: int
    partitionprev: int
    id: str
    correlationid: str
    actorid: str


def peek(headers: list[tuple[str, bytes]] | None) -> Head | None:
    """The message's head, or None where the headers are not a CloudEvent's (then the full decode decides)."""
    h = dict(headers or ())
    try:
        if h["ce_specversion"] != b"1.0":
            return None
        return Head(type=h["ce_type"].decode(), subject=h["ce_subject"].decode(), sequence=int(h["ce_sequence"]),
                    partitionprev=int(h.get("ce_partitionprev", b"0")), id=h["ce_id"].decode(),
                    correlationid=h.get("ce_correlationid", b"").decode(), actorid=h.get("ce_actorid", b"").decode())
    except (KeyError, ValueError, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class Message:
    """A validated message handed to a policy."""

    envelope: Envelope
    payload: Contract


Policy = Callable[..., Any]  # EventSink: (message) -> aggregates; ProjectionSink: (message, conn) -> None


class ConsumerLoop:
    """Reads topics, validates each message against its contract and applies the policy for its type."""

    def __init__(
        self,
        *,
        service: str,
        name: str,
        topics_: list[str],
        policies: dict[type[Contract], Policy],
        sink: Sink,
        db: Database,
        bootstrap: str,
        partitions: int,
        metrics: Metrics,
        logger: Any,
        batch_size: int = 500,
    ) -> None:
        self.service = service
        self.name = name
        self.topics = topics_
        self.policies = {c.ce_type(): p for c, p in policies.items()}
        self.sink = sink
        self.db = db
        self.bootstrap = bootstrap
        self.partitions = partitions
        self.metrics = metrics
        self.log = logger.bind(component="consumer", consumer=name)
        self.batch_size = batch_size
        self.positions: dict[tuple[str, int], int] = {}
        self.next_offsets: dict[tuple[str, int], int] = {}
        self._last_rewind: dict[tuple[str, int], float] = {}
        self._attempts: dict[tuple[tuple[str, int], int], int] = {}
        self._gaps: dict[tuple[str, int], int] = {}
        self._partition_counts: dict[str, int] = {}  # partition -> offset of the gap that made it rewind
        self._pending: list[tuple[Any, tuple[str, int], str, int, Policy, Message]] = []
        self._before_batch: dict[tuple[str, int], int] = {}
        # messages with no policy: only the last sequence per partition is written, after the batch's effects
        self._skips: dict[tuple[str, int], tuple[str, int]] = {}
        self.leadership = Leadership(db.url, f"baoxue-consumer:{name}", self.log)
        self.dlq_topic = topics.dead_letter(name)
        self.consumer: Consumer | None = None
        self.cluster_id: str | None = None
        self._last_cluster_check = 0.0
        self.dlq = self._new_dlq_producer()
        db.execute_script(OFFSETS_DDL)

    def track(self, topic: str, partition: int) -> str:
        return f"{self.name}:{topic}:{partition}"

    # -- leadership and assignment ------------------------------------------------------------
    def acquire_leadership(self) -> bool:
        """Takes this consumer's advisory lock; a second process waits as a hot standby."""
        return self.leadership.held()

    def start(self) -> None:
        """Assigns every partition at the stored hint offsets (or the beginning)."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        ensure_topics(admin, list(self.topics) + [self.dlq_topic], self.partitions)
        metadata = admin.list_topics(timeout=10)
        self.cluster_id = metadata.cluster_id
        self._partition_counts = self.partition_counts(metadata)
        with self.db.transaction() as conn:
            hints = {  # offsets are only meaningful on the broker they were read from
                (r["topic"], r["partition"]): r["next_offset"]
                for r in conn.execute(
                    "SELECT * FROM consumer_offsets WHERE consumer=%s AND cluster_id=%s", (self.name, self.cluster_id)
                ).fetchall()
            }
        assignment = []
        for topic in self.topics:
            # every partition the topic has: a topic auto-created by another producer may have more than ours
            for partition in range(max(self.partitions, self._partition_counts.get(topic, 0))):
                self.positions[(topic, partition)] = self.sink.last_applied(self.track(topic, partition))
                offset = hints.get((topic, partition), OFFSET_BEGINNING)
                assignment.append(TopicPartition(topic, partition, offset))
        self.consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"baoxue-{self.name}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "enable.partition.eof": False,
                # as long as a poll gathers anyway: an idle broker answers half the fetches it did at 100 ms, and a
                # message still reaches a waiting poll in about 0.2 s (tansu, measured: 202 ms p50 either way)
                "fetch.wait.max.ms": int(POLL_WAIT_S * 1000),
            }
        )
        self.consumer.assign(assignment)
        self.log.info("consumer_assigned", partitions=len(assignment))

    # -- message handling ---------------------------------------------------------------------
    def _new_dlq_producer(self) -> Producer:
        """An idempotent producer for the dead-letter topic; rebuilt when the broker changed."""
        return Producer(
            {"bootstrap.servers": self.bootstrap, "enable.idempotence": True, "acks": "all", "message.timeout.ms": 15000}
        )

    def _reset_dlq_producer(self) -> None:
        try:
            self.dlq.purge()
            self.dlq.flush(0)
        except Exception:  # noqa: BLE001 - the old producer is being discarded anyway
            pass
        self.dlq = self._new_dlq_producer()

    def dead_letter(self, msg: Any, reason: str, error: str) -> None:
        headers = list(msg.headers() or []) + [
            ("dlq_consumer", self.name.encode()),
            ("dlq_reason", reason.encode()),
            ("dlq_error", error[:2000].encode()),
            ("dlq_source", f"{msg.topic()}/{msg.partition()}/{msg.offset()}".encode()),
        ]
        errors: list[Any] = []
        # the topic may be gone (a broker that lost its data): produced to as it is, the broker would create it
        # with its own partition count; dead letters are rare, so each one checks
        try:
            ensure_topics(AdminClient({"bootstrap.servers": self.bootstrap}), [self.dlq_topic], self.partitions)
        except KafkaException as exc:  # the broker is away: the message is read again later
            raise TransientError(f"dead-letter topic unavailable: {exc}") from exc
        self.dlq.produce(
            self.dlq_topic, key=msg.key(), value=msg.value(), headers=headers,
            on_delivery=lambda err, _m: errors.append(err) if err is not None else None,
        )
        if self.dlq.flush(20) or errors:
            self._reset_dlq_producer()  # its producer id may belong to a broker that lost its data
            raise TransientError("dead-letter topic unavailable")
        self.metrics.dead_lettered.labels(self.service, self.name, reason).inc()
        self.log.error("message_dead_lettered", reason=reason, error=error[:500], source=f"{msg.topic()}/{msg.partition()}/{msg.offset()}")

    def rewind(self, topic: str, partition: int, reason: str) -> None:
        """Re-reads a partition from its start (duplicates are skipped by sequence)."""
        key = (topic, partition)
        now = time.monotonic()
        if now - self._last_rewind.get(key, 0) < 1.0:
            time.sleep(0.5)  # the relay may still be refilling the broker
        self._last_rewind[key] = time.monotonic()
        assert self.consumer is not None
        self.consumer.seek(TopicPartition(topic, partition, OFFSET_BEGINNING))
        self.metrics.consumer_rewinds.labels(self.service, self.name, topic).inc()
        self.log.warning("consumer_rewind", topic=topic, partition=partition, reason=reason)

    def handle(self, msg: Any) -> str:
        """Handles one message; its outcome: applied, duplicate, ignored, dead_lettered, rewind, misrouted or stray."""
        topic, partition = msg.topic(), msg.partition()
        key = (topic, partition)
        envelope: Envelope | Head | None = peek(msg.headers())
        if envelope is None or envelope.type in self.policies:  # read whole only what a policy will use
            try:
                envelope, data = decode(msg.headers(), msg.key(), msg.value())
            except Exception as exc:  # noqa: BLE001 - anything unreadable goes to the dead-letter topic
                self.flush_pending()
                self.dead_letter(msg, "invalid_envelope", repr(exc))
                return "dead_lettered"
        last = self.positions[key]
        if envelope.sequence <= last:
            return "duplicate"
        if partition_for(envelope.subject, self.partitions) != partition:
            # not where the relay puts this aggregate: a copy produced by someone else; its original is elsewhere
            self.log.warning("consumer_misrouted_message", topic=topic, partition=partition, offset=msg.offset(),
                             sequence=envelope.sequence)
            return "misrouted"
        if envelope.partitionprev > last:
            gap_at = self._gaps.get(key)
            if gap_at is not None and msg.offset() <= gap_at:
                # re-read from the start and the missing messages were not before it: it is a stray published
                # ahead of a refill; the refill brings it again in order, so pass over it without applying it
                self.log.warning("consumer_stray_message_passed", topic=topic, partition=partition,
                                 offset=msg.offset(), sequence=envelope.sequence, previous=envelope.partitionprev)
                return "stray"
            self._gaps[key] = msg.offset()
            self.rewind(topic, partition, f"gap: previous {envelope.partitionprev} > applied {last}")
            return "rewind"
        self._gaps.pop(key, None)
        rlog.bind(
            correlation_id=envelope.correlationid, event_id=envelope.id, event_type=envelope.type, actor_id=envelope.actorid
        )
        track = self.track(topic, partition)
        policy = self.policies.get(envelope.type)
        if policy is None:
            # nothing to apply: one position write per partition and batch instead of a transaction per message
            self._skips[key] = (track, envelope.sequence)
            self.positions[key] = envelope.sequence
            return "ignored"
        contract = contract_for_type(envelope.type)
        try:
            assert contract is not None and isinstance(envelope, Envelope)
            payload = contract.model_validate(data)
        except (ValidationError, AssertionError) as exc:
            self.flush_pending()
            self.dead_letter(msg, "invalid_payload", str(exc))
            self.sink.skip(track, envelope.sequence)
            self.positions[key] = envelope.sequence
            return "dead_lettered"
        message = Message(envelope, payload)
        self._skips.pop(key, None)  # applying this message moves the position past the skipped ones
        if hasattr(self.sink, "apply_batch"):
            self._before_batch.setdefault(key, last)
            self._pending.append((msg, key, track, envelope.sequence, policy, message))
            self.positions[key] = envelope.sequence
            return "applied"
        return self.apply_one(msg, key, track, envelope.sequence, policy, message)

    def apply_one(self, msg: Any, key: tuple[str, int], track: str, sequence: int, policy: Policy, message: Message) -> str:
        """Applies one message; a poison message is dead-lettered and its partition moves on."""
        try:
            self.sink.apply(track, sequence, policy, message)
        except RETRYABLE as exc:
            attempts = self._attempts.get((key, msg.offset()), 0) + 1
            self._attempts[(key, msg.offset())] = attempts
            if attempts < 5:
                raise TransientError(rlog.error_text(exc)) from exc
            self.dead_letter(msg, "retries_exhausted", rlog.error_text(exc, 500))
            self.sink.skip(track, sequence)
        except Exception as exc:  # noqa: BLE001 - a poison message must not block its partition
            self.dead_letter(msg, "processing_failed", rlog.error_text(exc, 500))
            self.sink.skip(track, sequence)
        self.positions[key] = sequence
        return "applied"

    def flush_pending(self) -> None:
        """Commits the batched effects; on a poison message, falls back to one message at a time."""
        if not self._pending:
            return
        pending, before = self._pending, self._before_batch
        self._pending, self._before_batch = [], {}
        try:
            self.sink.apply_batch([(track, seq, policy, message) for _m, _k, track, seq, policy, message in pending])  # type: ignore[attr-defined]
            return
        except RETRYABLE as exc:
            self.positions.update(before)
            first_offsets: dict[tuple[str, int], int] = {}
            for msg, key, *_ in pending:
                first_offsets.setdefault(key, msg.offset())
            assert self.consumer is not None
            for (topic, partition), offset in first_offsets.items():
                self.consumer.seek(TopicPartition(topic, partition, offset))
                self.next_offsets.pop((topic, partition), None)
            raise TransientError(rlog.error_text(exc)) from exc
        except Exception:  # noqa: BLE001 - find the poison message by applying one at a time
            self.positions.update(before)
        for msg, key, track, seq, policy, message in pending:
            self.apply_one(msg, key, track, seq, policy, message)

    def flush_skips(self) -> None:
        """Writes the positions of skipped messages; only after the effects before them are committed."""
        if not self._skips:
            return
        skips, self._skips = self._skips, {}
        try:
            self.sink.skip_many(list(skips.values()))
        except RETRYABLE as exc:
            raise TransientError(rlog.error_text(exc)) from exc

    def save_offset_hints(self) -> None:
        if not self.next_offsets:
            return
        with self.db.transaction() as conn:
            for (topic, partition), offset in self.next_offsets.items():
                conn.execute(
                    "INSERT INTO consumer_offsets (consumer, topic, partition, next_offset, cluster_id) "
                    "VALUES (%s,%s,%s,%s,%s) ON CONFLICT (consumer, topic, partition) DO UPDATE SET "
                    "next_offset = EXCLUDED.next_offset, cluster_id = EXCLUDED.cluster_id",
                    (self.name, topic, partition, offset, self.cluster_id or ""),
                )
        self.next_offsets.clear()

    def update_lag(self) -> None:
        assert self.consumer is not None
        try:
            positions = self.consumer.position(self.consumer.assignment())
        except Exception:  # noqa: BLE001 - lag is best effort
            return
        for tp in positions:
            try:
                _low, high = self.consumer.get_watermark_offsets(tp, timeout=1, cached=False)
            except Exception:  # noqa: BLE001
                continue
            lag = max(0, high - tp.offset) if tp.offset >= 0 else high
            self.metrics.consumer_lag.labels(self.service, self.name, tp.topic, str(tp.partition)).set(lag)

    def partition_counts(self, metadata: Any) -> dict[str, int]:
        """How many partitions each subscribed topic has on the broker."""
        return {t: len(metadata.topics[t].partitions) for t in self.topics if t in metadata.topics}

    def check_cluster(self) -> None:
        """Starts over on a broker that is not the one we were reading (it lost its data)."""
        assert self.consumer is not None
        self._last_cluster_check = time.monotonic()
        metadata = self.consumer.list_topics(timeout=5)
        cluster_id = metadata.cluster_id
        if cluster_id == self.cluster_id and self.partition_counts(metadata) != self._partition_counts:
            self.log.warning("consumer_partitions_changed", old=self._partition_counts, new=self.partition_counts(metadata))
            self.close_consumer()
            return
        if cluster_id != self.cluster_id:
            self.log.warning("consumer_broker_changed", old=self.cluster_id, new=cluster_id)
            self.next_offsets.clear()
            self._reset_dlq_producer()
            self.close_consumer()

    def run(self, should_stop: Callable[[], bool]) -> None:
        """Runs until told to stop; a transient failure re-reads from the failed message."""
        self.log.info("consumer_started", topics=self.topics)
        last_lag = 0.0
        while not should_stop():
            try:
                if not self.acquire_leadership():
                    time.sleep(1.0)
                    continue
                if self.consumer is None:
                    self.start()
                assert self.consumer is not None
                messages = self.consumer.consume(self.batch_size, timeout=POLL_WAIT_S)
                rewound: set[tuple[str, int]] = set()
                for msg in messages:
                    if should_stop():
                        break
                    if msg.error():
                        if msg.error().code() != KafkaError._PARTITION_EOF:
                            self.log.warning("consumer_fetch_error", error=str(msg.error()))
                        continue
                    key = (msg.topic(), msg.partition())
                    if key in rewound:
                        continue
                    try:
                        outcome = self.handle(msg)
                    except TransientError as exc:
                        self.log.warning("consumer_transient_failure", error=rlog.error_text(exc))
                        self.consumer.seek(TopicPartition(msg.topic(), msg.partition(), msg.offset()))
                        rewound.add(key)
                        time.sleep(1.0)
                        continue
                    finally:
                        rlog.clear()
                    self.metrics.consumed.labels(self.service, self.name, msg.topic(), outcome).inc()
                    if outcome == "rewind":
                        rewound.add(key)
                    else:
                        self.next_offsets[key] = msg.offset() + 1
                try:
                    self.flush_pending()
                    self.flush_skips()  # before the offset hints: a hint ahead of the position would look like a gap
                except TransientError as exc:
                    self.log.warning("consumer_transient_failure", error=rlog.error_text(exc))
                    time.sleep(1.0)
                    continue
                self.save_offset_hints()
                if time.monotonic() - self._last_cluster_check > 2:
                    self.check_cluster()
                if time.monotonic() - last_lag > 5:
                    self.update_lag()
                    last_lag = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - the loop must outlive outages
                self.log.warning("consumer_retrying", error=rlog.error_text(exc))
                self.close_consumer()
                time.sleep(1.0)
        self.close_consumer()
        self.leadership.release()
        self.log.info("consumer_stopped")

    def close_consumer(self) -> None:
        if self.consumer is not None:
            try:
                self.consumer.close()
            except Exception:  # noqa: BLE001
                pass
            self.consumer = None


def dump_headers(headers: list[tuple[str, bytes]] | None) -> str:
    """Headers as JSON, for diagnostics."""
    return json.dumps({k: v.decode(errors="replace") for k, v in headers or []})
