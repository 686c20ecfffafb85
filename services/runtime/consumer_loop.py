"""The consumer loop: applies each message's effect exactly once and never blocks a partition.

N replicas of one consumer share its topic partitions through leases in the service's PostgreSQL
(``consumer_leases``): each member assigns itself (no Kafka group rebalances) only the partitions it holds,
at the positions stored there, and every effect transaction checks the lease. The position that matters is the
source sequence per topic partition, committed in the same transaction as the effect (a sink). Kafka offsets are
only a hint for where to resume: a gap in the sequence chain (a broker that lost and was refilled) rewinds the
partition to its start, and duplicates are skipped by sequence.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient
from pydantic import ValidationError

from contracts import Contract, Envelope
from services.runtime import logging as rlog, tracing
from services.runtime.consumer_dlq import DeadLetters, validation_text
from services.runtime.consumer_leases import Key, Leases
from services.runtime.consumer_offsets import OffsetHints, forget_lag, kafka_consumer, report_lag
from services.runtime.consumer_messages import (RETRYABLE, Head, LeaseLost, Message, Policy, TransientError, envelope_of,
                                                 peek)
from services.runtime.consumer_sinks import OFFSETS_DDL, Sink
from services.runtime.db import Database
from services.runtime.kafka import BrokerWatch, ensure_topics, partition_for
from services.runtime.metrics import Metrics
from services.runtime.process import collector_paused

POLL_WAIT_S = 0.2  # how long an idle poll waits for a first message (one that arrives is taken at once)
METADATA_EVERY_S = 2.0  # how often the broker's cluster id and partition counts are looked at


class ConsumerLoop:
    """Reads the partitions this member leases, validates each message against its contract and applies the policy
    for its type."""

    def __init__(self, *, service: str, name: str, topics_: list[str], policies: dict[type[Contract], Policy],
                 sink: Sink, db: Database, bootstrap: str, partitions: int, metrics: Metrics, logger: Any,
                 batch_size: int = 500, lease_s: float = 10.0, heartbeat_s: float | None = None,
                 member: str | None = None, replication_factor: int = 1) -> None:
        self.service = service
        self.name = name
        self.topics = topics_
        self.policies = {c.ce_type(): p for c, p in policies.items()}
        self.contracts = {c.ce_type(): c for c in policies}
        self.sink = sink
        self.db = db
        self.bootstrap = bootstrap
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.metrics = metrics
        self.log = logger.bind(component="consumer", consumer=name)
        self.batch_size = batch_size
        self.positions: dict[Key, int] = {}
        self.next_offsets: dict[Key, int] = {}
        self._last_rewind: dict[Key, float] = {}
        self._attempts: dict[tuple[Key, int], int] = {}
        self._gaps: dict[Key, int] = {}  # partition -> offset of the gap that made it rewind
        self._partition_counts: dict[str, int] = {}
        self._known_counts: dict[str, set[int]] = {}  # every partition count a topic has had
        self._route_counts: dict[str, tuple[int, ...]] = {}  # the same with ours, as routed_here reads it
        self._drained: dict[Key, int] = {}  # parent partition -> its committed position, last looked at
        self._pending: list[tuple[Any, Key, str, int, Policy, Message]] = []
        self._before_batch: dict[Key, int] = {}
        # messages with no policy: only the last sequence per partition is written, after the batch's effects
        self._skips: dict[Key, tuple[str, int]] = {}
        self._tracks: dict[Key, str] = {}
        self._batched = hasattr(sink, "apply_batch")  # a sink that applies a poll's messages in one transaction
        self.hints = OffsetHints(db, name)
        self.leases = Leases(db, name, lease_s, self.log, member=member, heartbeat_s=heartbeat_s)
        self.sink.fence = self.leases.fence
        self.assigned: dict[Key, int] = {}  # partition -> lease epoch it was assigned at
        # the Kafka consumer (and the dead-letter producer with it) is replaced when it loses every broker (kafka.py)
        self.broker_watch = BrokerWatch()
        self.dead_letters = DeadLetters(service=service, name=name, bootstrap=bootstrap, partitions=partitions,
                                        metrics=metrics, log=self.log, db=db, replication_factor=replication_factor)
        self.dlq_topic = self.dead_letters.topic
        self.consumer: Consumer | None = None
        self.cluster_id: str | None = None
        self._last_cluster_check = 0.0
        db.ensure_tables(OFFSETS_DDL)

    def track(self, topic: str, partition: int) -> str:
        return f"{self.name}:{topic}:{partition}"

    # -- partitions, leases and assignment ------------------------------------------------------
    def existing(self) -> set[Key]:
        """Every partition of every topic read (a topic auto-created by another producer may have more than ours)."""
        return {(t, p) for t in self.topics for p in range(max(self.partitions, self._partition_counts.get(t, 0)))}

    def _learn_partitions(self, metadata: Any) -> None:
        self._partition_counts = self.partition_counts(metadata)
        self.leases.ensure(self.existing())
        self._known_counts = self.leases.record_counts(  # the relays' (configured) count and the broker's
            {t: {self.partitions, self._partition_counts.get(t, self.partitions)} for t in self.topics})
        self._route_counts = {t: tuple(sorted(self._known_counts.get(t, set()) | {self.partitions}))
                              for t in self.topics}

    def start(self) -> None:
        """Creates the Kafka consumer (no group membership: partitions are assigned from the leases)."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        ensure_topics(admin, list(self.topics) + [self.dlq_topic], self.partitions,
                      replication_factor=self.replication_factor)
        metadata = admin.list_topics(timeout=10)
        self.cluster_id = metadata.cluster_id
        self._learn_partitions(metadata)
        if self.broker_watch.lost is not None:  # however the old client was closed: its producer goes with it
            self.dead_letters.reset()
        self.broker_watch.reset()
        self.consumer = kafka_consumer(self.bootstrap, self.name, POLL_WAIT_S, self.broker_watch)
        self.assigned = {}
        self._last_cluster_check = time.monotonic()
        self.rebalance()

    def rebalance(self) -> None:
        """Heartbeat: leases renewed, taken or released; the Kafka assignment follows what this member holds.
        A partition (re)gained starts at its stored position, at the stored offset hint or the beginning."""
        assert self.consumer is not None
        held = self.leases.tick(self.existing())
        drop = [k for k, epoch in self.assigned.items() if held.get(k) != epoch]
        add = {k: epoch for k, epoch in held.items() if self.assigned.get(k) != epoch}
        if not drop and not add:
            return
        if drop:  # the kept partitions go on fetching where they are
            self.consumer.incremental_unassign([TopicPartition(t, p) for t, p in drop])
            forget_lag(self.metrics, self.service, self.name, drop)  # the new holder reports their lag
            for key in drop:
                del self.assigned[key]
                for state in (self.positions, self.next_offsets, self._gaps, self._skips):
                    state.pop(key, None)
        if add:
            hints = self.hints.load(self.cluster_id)
            assignment = []
            for (topic, partition), epoch in sorted(add.items()):
                self.positions[(topic, partition)] = self.sink.last_applied(self.track(topic, partition))
                assignment.append(TopicPartition(topic, partition, hints.get((topic, partition), OFFSET_BEGINNING)))
                self.assigned[(topic, partition)] = epoch
            self.consumer.incremental_assign(assignment)
        self.log.info("consumer_assigned", partitions=len(self.assigned), added=len(add), dropped=len(drop))

    # -- message handling ---------------------------------------------------------------------
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

    def routed_here(self, topic: str, subject: str, partition: int) -> bool:
        """Whether the relay puts this aggregate on this partition, with any partition count the topic has had."""
        counts = self._route_counts.get(topic) or (self.partitions,)
        if len(counts) == 1:  # the usual case: the topic never grew
            return partition_for(subject, counts[0]) == partition
        return any(partition_for(subject, n) == partition for n in counts)

    def parent_drained(self, topic: str, headers: list[tuple[str, bytes]] | dict[str, bytes] | None) -> bool:
        """A grown topic's new partition: its message waits until the partition its key was on is applied up to
        the sequence the relay names (``ce_partitionparent``/``ce_parentsequence``; services/runtime/README.md)."""
        h = headers if isinstance(headers, dict) else dict(headers or ())
        if not h.get("ce_partitionparent"):
            return True
        parent, upto = (topic, int(h["ce_partitionparent"])), int(h.get("ce_parentsequence", b"0"))
        if self._drained.get(parent, 0) < upto:  # its committed position, whoever holds it
            self._drained[parent] = self.sink.last_applied(self.track(*parent))
        return self._drained[parent] >= upto

    def handle(self, msg: Any) -> str:
        """Handles one message; its outcome: applied, duplicate, ignored, dead_lettered, rewind, misrouted, stray,
        held (its parent partition is not drained yet) or not_held (fetched before its lease was given up).

        The per-message path of every consumer (an onboarding is millions of messages): per-partition values are
        looked up once (``_track_of``), the logging context is bound only where something may log with it (a
        policy applied here, a dead letter), and a batched message is only queued."""
        topic, partition = msg.topic(), msg.partition()
        key = (topic, partition)
        if key not in self.assigned:
            return "not_held"
        headers = dict(msg.headers() or ())  # once per message: the envelope (or head) and the parent check read it
        envelope: Envelope | Head | None
        ce_type = headers.get("ce_type")
        if ce_type is not None and ce_type.decode(errors="replace") in self.policies:
            try:  # the whole envelope only for what a policy will use
                envelope = envelope_of(headers)
            except ValueError as exc:
                self.flush_pending()
                self.dead_letter(msg, key, self.track(topic, partition), "invalid_envelope",
                                 validation_text(exc) if isinstance(exc, ValidationError) else repr(exc)[:500])
                return "dead_lettered"
        else:
            envelope = peek(headers)  # the head only: type, subject and the sequence chain
            if envelope is None:  # not a CloudEvent's headers: nothing says where it belongs in its partition
                self.flush_pending()
                self.dead_letter(msg, key, self.track(topic, partition), "invalid_envelope",
                                 "not a CloudEvents 1.0 binary-mode message")
                return "dead_lettered"
        last = self.positions[key]
        if envelope.sequence <= last:
            return "duplicate"
        if not self.routed_here(topic, envelope.subject, partition):
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
        if self._gaps:
            self._gaps.pop(key, None)
        if "ce_partitionparent" in headers and not self.parent_drained(topic, headers):
            return "held"
        track = self._track_of(key)
        policy = self.policies.get(envelope.type)
        if policy is None:
            # nothing to apply: one position write per partition and batch instead of a transaction per message
            self._skips[key] = (track, envelope.sequence)
            self.positions[key] = envelope.sequence
            return "ignored"
        contract = self.contracts.get(envelope.type)
        try:
            assert contract is not None and isinstance(envelope, Envelope)
            # pydantic's own JSON parser straight into the contract (no dict in between); not JSON is invalid too
            payload = contract.model_validate_json(msg.value() or b"")
        except (ValidationError, AssertionError) as exc:
            self.flush_pending()
            self._bind(envelope)
            self.dead_letter(msg, key, track, "invalid_payload", validation_text(exc), envelope.sequence)
            self.positions[key] = envelope.sequence
            return "dead_lettered"
        message = Message(envelope, payload, *(tracing.header_values(msg.headers()) if tracing.enabled else ()))
        if self._skips:
            self._skips.pop(key, None)  # applying this message moves the position past the skipped ones
        if self._batched:
            if key not in self._before_batch:
                self._before_batch[key] = last
            self._pending.append((msg, key, track, envelope.sequence, policy, message))
            self.positions[key] = envelope.sequence
            return "applied"
        self._bind(envelope)  # the policy runs here: its log lines carry the message's ids
        return self.apply_one(msg, key, track, envelope.sequence, policy, message)

    @staticmethod
    def _bind(envelope: Envelope | Head) -> None:
        rlog.bind(correlation_id=envelope.correlationid, event_id=envelope.id, event_type=envelope.type,
                  actor_id=envelope.actorid)

    def _track_of(self, key: Key) -> str:
        """The track of a partition (``consumer:topic:partition``), formatted once per partition."""
        track = self._tracks.get(key)
        if track is None:
            track = self._tracks[key] = self.track(*key)
        return track

    def apply_one(self, msg: Any, key: Key, track: str, sequence: int, policy: Policy, message: Message) -> str:
        """Applies one message; a poison message is dead-lettered and its partition moves on."""
        try:
            self.sink.apply(track, sequence, policy, message)
        except LeaseLost:
            raise  # never dead-lettered: the partition's new holder applies it
        except RETRYABLE as exc:
            attempts = self._attempts.get((key, msg.offset()), 0) + 1
            self._attempts[(key, msg.offset())] = attempts
            if attempts < 5:
                raise TransientError(rlog.error_text(exc)) from exc
            self.dead_letter(msg, key, track, "retries_exhausted", rlog.error_text(exc, 500), sequence)
        except Exception as exc:  # noqa: BLE001 - a poison message must not block its partition
            self.dead_letter(msg, key, track, "processing_failed", rlog.error_text(exc, 500), sequence)
        self.positions[key] = sequence
        return "applied"

    def dead_letter(self, msg: Any, key: Key, track: str, reason: str, error: str, sequence: int | None = None) -> None:
        """Records a poison message once (by its identity: consumer_dlq.py), in the fenced transaction that moves
        its partition's position past it (a message without a readable envelope has no position: alone, fenced);
        a member whose lease moved commits neither. Counted, logged and mirrored to the topic after the commit."""
        letter = self.dead_letters.letter(msg, reason, error, sequence=sequence, cluster_id=self.cluster_id)
        try:
            if sequence is None:
                self.dead_letters.record(letter, self.sink.fence, track)
            else:
                self.sink.skip(track, sequence, also=letter.write)
        except LeaseLost:
            self.leases.drop([key])  # the next heartbeat says whether it is still ours
            raise
        except RETRYABLE as exc:
            raise TransientError(rlog.error_text(exc)) from exc
        self.dead_letters.recorded(letter)

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
            first_offsets: dict[Key, int] = {}
            for msg, key, *_ in pending:
                first_offsets.setdefault(key, msg.offset())
            assert self.consumer is not None
            for (topic, partition), offset in first_offsets.items():
                self.consumer.seek(TopicPartition(topic, partition, offset))
                self.next_offsets.pop((topic, partition), None)
            if isinstance(exc, LeaseLost):
                self.leases.drop(first_offsets)  # the next heartbeat says which of them are still ours
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
        except LeaseLost as exc:
            self.leases.drop(skips)
            raise TransientError(rlog.error_text(exc)) from exc
        except RETRYABLE as exc:
            raise TransientError(rlog.error_text(exc)) from exc

    def save_offset_hints(self) -> None:
        hints = {k: o for k, o in self.next_offsets.items() if k in self.assigned}
        self.next_offsets.clear()
        self.hints.save(hints, self.cluster_id)

    def update_lag(self) -> None:
        report_lag(self.consumer, self.metrics, self.service, self.name)

    def partition_counts(self, metadata: Any) -> dict[str, int]:
        """How many partitions each subscribed topic has on the broker."""
        return {t: len(metadata.topics[t].partitions) for t in self.topics if t in metadata.topics}

    def broker_lost(self) -> None:
        """The clients lost every broker: both are replaced before they can reach whatever answers next at the
        address (kafka.REPLACED_ON_LOSS); the next start reads the broker's cluster id anew, and positions and
        offset hints of a broker that lost its data are never used with another (hints are per cluster id)."""
        self.log.warning("consumer_broker_lost", error=self.broker_watch.lost, cluster=self.cluster_id)
        self.dead_letters.reset()
        self.close_consumer()  # the watch stays set until start() made the new clients

    def check_cluster(self) -> None:
        """Starts over on a broker that is not the one we were reading (it lost its data); leases the partitions
        of a grown topic (positions of the older partitions are kept)."""
        assert self.consumer is not None
        self._last_cluster_check = time.monotonic()
        self.dead_letters.publish_pending()  # letters the broker did not take before (nothing to do: no query)
        metadata = self.consumer.list_topics(timeout=5)
        cluster_id = metadata.cluster_id
        if cluster_id != self.cluster_id:
            self.log.warning("consumer_broker_changed", old=self.cluster_id, new=cluster_id)
            self.next_offsets.clear()
            self.dead_letters.reset()
            self.close_consumer()
            return
        if self.partition_counts(metadata) != self._partition_counts:
            self.log.warning("consumer_partitions_changed", old=self._partition_counts,
                             new=self.partition_counts(metadata))
            self._learn_partitions(metadata)
            self.rebalance()

    def fetch_batch(self) -> list[Any]:
        """A poll's messages: whatever the client has already fetched (up to ``batch_size``) at once; when it has
        nothing, the first message to arrive (waiting up to ``POLL_WAIT_S``) and what came with it.

        ``consume(n, timeout)`` returns only when it has ``n`` messages or the timeout passed, so on a quiet topic
        every message waited out the whole 0.2 s before its batch was applied (tansu, measured: produce → consumed
        201 ms p50 with ``consume(2000, 0.2)``, 53 ms with ``poll``). Batches still form under load: while one is
        applied the client fetches the next, which the non-blocking ``consume`` then takes whole."""
        assert self.consumer is not None
        messages = self.consumer.consume(self.batch_size, timeout=0)
        if messages:
            return messages
        first = self.consumer.poll(POLL_WAIT_S)
        if first is None:
            return []
        return [first, *self.consumer.consume(self.batch_size - 1, timeout=0)] if self.batch_size > 1 else [first]

    def poll_once(self, should_stop: Callable[[], bool]) -> None:
        """One poll: its messages handled, their effects committed as one batch, then positions and hints; the
        cyclic collector paused meanwhile (the poll's messages live until its commit: ``process.collector_paused``)."""
        with collector_paused():
            self._poll(should_stop)

    def _poll(self, should_stop: Callable[[], bool]) -> None:
        assert self.consumer is not None
        messages = self.fetch_batch()
        outcomes: dict[tuple[str, str], int] = {}  # counted once per poll, not a labelled metric per message
        try:
            self._handle_all(messages, outcomes, should_stop)
        finally:
            for (topic, outcome), n in outcomes.items():
                self.metrics.consumed.labels(self.service, self.name, topic, outcome).inc(n)
        try:
            self.flush_pending()
            self.flush_skips()  # before the offset hints: a hint ahead of the position would look like a gap
        except TransientError as exc:
            self.log.warning("consumer_transient_failure", error=rlog.error_text(exc))
            self.next_offsets.clear()
            if not isinstance(exc.__cause__, LeaseLost):
                time.sleep(1.0)
            return
        self.save_offset_hints()

    def _handle_all(self, messages: list[Any], outcomes: dict[tuple[str, str], int],
                    should_stop: Callable[[], bool]) -> None:
        """Handles a poll's messages in order (a partition that rewound or failed passes over the rest of its
        messages in this poll); counts the outcomes per topic."""
        assert self.consumer is not None
        rewound: set[Key] = set()
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
                if key in self.assigned:
                    self.consumer.seek(TopicPartition(msg.topic(), msg.partition(), msg.offset()))
                rewound.add(key)
                time.sleep(1.0)
                continue
            finally:
                rlog.clear()
            outcomes[(key[0], outcome)] = outcomes.get((key[0], outcome), 0) + 1
            if outcome == "held":  # read again at the next poll; the rest of its partition waits with it
                self.consumer.seek(TopicPartition(msg.topic(), msg.partition(), msg.offset()))
                rewound.add(key)
            elif outcome == "rewind":
                rewound.add(key)
            elif outcome != "not_held":
                self.next_offsets[key] = msg.offset() + 1

    def run(self, should_stop: Callable[[], bool]) -> None:
        """Runs until told to stop; a transient failure re-reads from the failed message."""
        self.log.info("consumer_started", topics=self.topics, member=self.leases.member)
        last_lag = 0.0
        while not should_stop():
            try:
                if not self.leases.running():  # a tool holds the consumer's lock exclusively (a reset)
                    self.close_consumer()
                    time.sleep(1.0)
                    continue
                if self.consumer is None:
                    self.start()
                    self.leases.start_renewing()
                self.leases.progressed()
                self.poll_once(should_stop)
                if self.broker_watch.lost is not None:  # seen by that poll
                    self.broker_lost()
                    continue
                if self.consumer is not None and self.leases.due():
                    self.rebalance()
                if self.consumer is not None and time.monotonic() - self._last_cluster_check > METADATA_EVERY_S:
                    self.check_cluster()
                if self.consumer is not None and time.monotonic() - last_lag > 5:
                    self.update_lag()
                    last_lag = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - the loop must outlive outages
                self.log.warning("consumer_retrying", error=rlog.error_text(exc))
                self.close_consumer()
                time.sleep(1.0)
        self.close_consumer()
        try:
            self.leases.release_all()
        except Exception as exc:  # noqa: BLE001 - the leases expire anyway
            self.log.warning("consumer_release_failed", error=rlog.error_text(exc))
        self.log.info("consumer_stopped")

    def close_consumer(self) -> None:
        if self.consumer is not None:
            try:
                self.consumer.close()
            except Exception:  # noqa: BLE001
                pass
            self.consumer = None
        self.assigned = {}
        self.next_offsets = {}  # offsets read by the client just closed: hints only for the broker it read from
        self._pending, self._before_batch, self._skips = [], {}, {}
