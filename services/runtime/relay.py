"""The relay: follows a service's events table (the outbox) and publishes public events to Kafka.

At-least-once: a partition's position is stored only after the broker acknowledged every message of a batch.
Several replicas of one store's relay publish at once, each the partitions it leases (``relay_shards``: leases in
PostgreSQL as consumers hold theirs, positions and chain per partition, written fenced by the lease); a replica
that dies loses its session, its member lock and so its partitions, which the others take at their next heartbeat.
A replica reads the notifications from the lowest position of its partitions, hashes each row's aggregate id to
its partition (cheap next to decoding) and decodes and publishes only the rows of partitions it holds. A broker
that lost its data (its cluster id changed, or the topic is gone) is refilled from the first event, partition by
partition. Each message names the previous sequence published to its partition, so consumers can prove they
missed nothing.

A quiet relay does not poll: the event store's insert sends NOTIFY on a channel named after its events
table (eventsourcing's PostgreSQL recorder does it in every insert transaction), the relay LISTENs on its
session connection and looks as soon as one arrives; a slow safety poll catches anything a NOTIFY missed.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from psycopg import sql

from contracts import Contract
from services.runtime import tracing
from services.runtime.consumer_leases import Leases
from services.runtime.db import Database, Leadership
from services.runtime.kafka import PARTITIONS_HEADER, ensure_topics, event_id, message_headers, partition_for
from services.runtime.partitioning import PARENT_HEADER, PARENT_SEQUENCE_HEADER, PartitionPlan, parent_of
from services.runtime.logging import error_text
from services.runtime.metrics import Metrics
from services.runtime.process import collector_paused
from services.runtime.relay_shards import SHARDS_DDL, Shards

ToContract = Callable[[Any], Contract | None]

RELAY_DDL = """
CREATE TABLE IF NOT EXISTS relay_position (
    topic text PRIMARY KEY,
    position bigint NOT NULL,
    cluster_id text,
    chain jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE relay_position ADD COLUMN IF NOT EXISTS partitions jsonb;
""" + SHARDS_DDL
LEGACY_PARTITIONS = 6  # the partition setting's default before counts were stored with the position

# Producer defaults measured on the relay benchmark (bench/runtime.py bench_relay): bigger batches per request
PRODUCER_DEFAULTS: dict[str, Any] = {
    "linger.ms": 20,
    "batch.size": 1_000_000,
    "batch.num.messages": 10_000,
    "queue.buffering.max.messages": 200_000,
    "compression.type": "lz4",
}


@dataclass
class RelayState:
    """What the relay has durably published on the partitions it holds: each one's last notification id, the broker
    they refer to, each one's last sequence (the chain), and the partition counts the topic has used."""

    positions: dict[int, int] = field(default_factory=dict)
    cluster_id: str | None = None
    chain: dict[int, int] = field(default_factory=dict)
    plan: PartitionPlan | None = None

    @property
    def position(self) -> int:
        """Published through: the lowest position of the partitions (0 without any)."""
        return min(self.positions.values()) if self.positions else 0


@dataclass
class _InFlight:
    """A produced batch waiting for the broker: the state to store once its ``left`` messages are acknowledged."""

    state: RelayState
    published: int
    left: int = 0
    failures: list[str] = field(default_factory=list)

    def delivered(self, err: Any, _msg: Any) -> None:
        self.left -= 1
        if err is not None:
            self.failures.append(str(err))


class Relay:
    """Publishes one service's public events from its event store to its topic: the partitions this replica leases."""

    def __init__(
        self,
        *,
        service: str,
        app: Any,
        db: Database,
        topic: str,
        to_contract: ToContract,
        bootstrap: str,
        partitions: int,
        metrics: Metrics,
        logger: Any,
        batch_size: int = 500,
        safety_poll_s: float = 2.0,
        standby_poll_s: float = 1.0,
        replication_factor: int = 1,
        producer_config: dict[str, Any] | None = None,
        max_in_flight: int = 2,
        store: str | None = None,
        lease_s: float = 10.0,
        member: str | None = None,
    ) -> None:
        self.service = service
        self.app = app
        self.db = db
        self.topic = topic
        self.to_contract = to_contract
        self.partitions = partitions
        self.metrics = metrics
        self.log = logger.bind(component="relay", topic=topic)
        self.batch_size = batch_size
        self.safety_poll_s = safety_poll_s
        self.standby_poll_s = standby_poll_s  # also the heartbeat: partitions are rebalanced this often
        self.replication_factor = replication_factor
        self.producer_config = {**PRODUCER_DEFAULTS, **(producer_config or {})}
        self._source = f"/baoxue/{service}"
        self._ce_types: dict[type, str] = {}
        self.max_in_flight = max_in_flight  # batches produced and not yet acknowledged while the next is read
        self._in_flight: deque[_InFlight] = deque()
        self.bootstrap = bootstrap
        self.admin = AdminClient({"bootstrap.servers": bootstrap})
        self._producer_cluster: str | None = None  # the broker's cluster id when the producer was last checked
        self.producer = self._new_producer()
        self.channel: str | None = getattr(app.recorder, "channel_name", None)  # None in memory: polls only
        db.ensure_tables(RELAY_DDL)
        # the partitions of one published store (the service's own, or a second one: ``store``) are leased among
        # its relay replicas as a consumer's are among its members (consumer_leases), under this consumer name
        self.lease_name = f"relay:{service}" if store is None else f"relay:{service}:{store}"
        self.leases = Leases(db, self.lease_name, lease_s, self.log, member=member, heartbeat_s=standby_poll_s)
        # every replica holds the store's relay lock shared (a relay of the single-leader code before, which takes it
        # exclusively, never publishes beside them) and its own member lock, which the others probe for liveness
        lock = f"baoxue-relay:{service}" if store is None else f"baoxue-relay:{service}:{store}"
        self.leadership = Leadership(db.url, lock, self.log, listen=self.channel, shared=True,
                                     member_lock=self.member_lock(self.leases.member))
        self.shards = Shards(db, topic, self.leases, self.leadership)
        self._leased: set[tuple[str, int]] = set()
        self._rows_for = 0  # the partition count whose rows are known to exist
        self._last_broker_check = 0.0
        self._warned_small_topic = False
        self._parent_sequences: dict[tuple[int, int], int] = {}  # (switch, parent) -> last sequence put there

    def member_lock(self, member: str) -> str:
        return f"baoxue-relay-member:{self.db.schema}:{self.lease_name}:{member}"

    def _new_producer(self) -> Producer:
        """An idempotent producer; rebuilt when the broker changed (its producer ids are gone)."""
        return Producer(
            {
                "bootstrap.servers": self.bootstrap,
                **self.producer_config,
                "enable.idempotence": True,
                "acks": "all",
                "message.timeout.ms": 15000,
            }
        )

    def _reset_producer(self) -> None:
        try:
            self.producer.purge()
            self.producer.flush(0)
        except Exception:  # noqa: BLE001 - the old producer is being discarded anyway
            pass
        self.producer = self._new_producer()
        self._producer_cluster = None

    # -- leadership -------------------------------------------------------------------------
    def acquire_leadership(self) -> bool:
        """Takes the relay's session (shared relay lock, member lock, LISTEN) and at once its share of the
        partitions; True when it holds any (only a partition's holder publishes it)."""
        if not self.leadership.held():
            return False
        self.leases.drop([])  # a heartbeat now
        return bool(self.check_broker().positions)

    # -- state ------------------------------------------------------------------------------
    def load_state(self) -> RelayState:
        """What is durably published on every partition of the topic (whoever holds it)."""
        rows = self.shards.load()
        clusters = {r.cluster_id for r in rows.values()}
        return RelayState({p: r.position for p, r in rows.items()}, clusters.pop() if len(clusters) == 1 else None,
                          {p: r.prev for p, r in rows.items() if r.prev}, self.shards.stored_plan()[1])

    def save_state(self, state: RelayState) -> None:
        """Stores the held partitions' positions and chain, fenced by their leases and by the broker they name."""
        self.shards.save(state.positions, state.chain, state.cluster_id, expected=state.cluster_id)

    def check_broker(self, state: RelayState | None = None) -> RelayState:
        """The durable state of the partitions this replica holds, against the broker as it is now (call it drained):
        the topic grown and the plan with it when the setting was raised, a heartbeat of the leases when due, and
        each held partition whose row names another broker (or whose topic is gone) refilled from the first event."""
        self.shards.release_plan()
        looked_at = self.shards.now()
        metadata = self.admin.list_topics(timeout=5)
        cluster_id = metadata.cluster_id
        found = metadata.topics.get(self.topic)
        topic_missing = found is None
        _, stored, legacy_position = self.shards.stored_plan()
        base = stored
        if base is None and legacy_position:  # stored before counts were: the topic's count, else the old default
            base = PartitionPlan.single(len(found.partitions) if found is not None else LEGACY_PARTITIONS)
        have = ensure_topics(self.admin, [self.topic], max(self.partitions, base.current if base else 0),
                             replication_factor=self.replication_factor)[self.topic]
        usable = min(self.partitions, have)
        plan = base
        if stored is None or base is None or usable > base.current:
            plan = self.shards.change_plan(
                lambda stored, switch: (stored or base or PartitionPlan.single(usable)).grown(switch, usable),
                cluster_id)
            if base is not None and plan != base:
                self.log.info("relay_partitions_grown", partitions=plan.current, previous=base.current,
                              from_position=plan.steps[-1][0])
        assert plan is not None
        if have < self.partitions and not self._warned_small_topic:
            self.log.warning("relay_topic_not_grown", wanted=self.partitions, partitions=have)
            self._warned_small_topic = True
        if cluster_id != self._producer_cluster:
            # A producer not checked against this cluster (made while standing by, or before a restart of the
            # broker) may hold a producer id and sequence numbers of a cluster that is gone. A broker that lost
            # its data hands the same ids out again, and it acknowledged such a producer's messages as
            # duplicates of another producer's without storing them (tansu, measured: a standby that took over
            # after the leader had refilled the new broker lost every event it published; services/runtime/
            # README.md, *Broker loss*). So it is replaced before it publishes anything here.
            self._reset_producer()
            self._producer_cluster = cluster_id
            fresh = True
        else:
            fresh = False
        if plan.current != self._rows_for:
            self.shards.ensure_rows(plan.current)
            self._rows_for = plan.current
        existing = {(self.topic, p) for p in range(plan.current)}
        if existing != self._leased:
            self.leases.ensure(existing)
            self._leased = existing
        if self.leases.due():
            self.shards.evict_dead(self.member_lock)
            self.leases.tick(existing)
        held = sorted(p for _t, p in self.leases.held)
        if topic_missing:
            self.shards.forget_broker(looked_at)
        rows = self.shards.load(held)
        stale = [p for p in held if rows[p].cluster_id != cluster_id]
        if stale:
            moved = [p for p in stale if rows[p].position > 0]
            if moved:
                self.log.warning(
                    "relay_broker_lost_data_refilling",
                    stored_cluster=rows[moved[0]].cluster_id,
                    broker_cluster=cluster_id,
                    topic_missing=topic_missing,
                    from_position=min(rows[p].position for p in moved),
                    partitions=len(moved),
                )
                self.metrics.relay_refills.labels(self.service).inc()
            if topic_missing and not fresh:  # the same cluster, the topic deleted: its ids and sequences are gone
                self._reset_producer()
            self.shards.save({p: 0 for p in stale}, {}, cluster_id, reset=True)
            rows = self.shards.load(held)
        self._producer_cluster = cluster_id
        self._last_broker_check = time.monotonic()
        return RelayState({p: rows[p].position for p in held}, cluster_id,
                          {p: rows[p].prev for p in held if rows[p].prev}, plan)

    # -- publishing -------------------------------------------------------------------------
    def headers_for(self, notification: Any, subject: str, domain_event: Any, contract: Contract,
                    prev: int) -> list[tuple[str, bytes]]:
        """The CloudEvents headers of one message (the fields of ``contracts.Envelope``)."""
        meta = getattr(domain_event, "meta", None) or {}
        ce_type = self._ce_types.get(type(contract))
        if ce_type is None:
            ce_type = self._ce_types[type(contract)] = contract.ce_type()
        version = notification.originator_version
        headers = message_headers(
            event_id(subject, version), self._source, ce_type, subject, meta.get("at") or domain_event.timestamp,
            version, notification.id, prev, meta.get("actor_id", f"system:{self.service}"),
            meta.get("actor_role", "system"),
            getattr(contract, "township_code", None) or meta.get("jurisdiction") or "00",
            meta.get("correlation_id") or subject, meta.get("causation_id"),
        )
        if tracing.enabled:  # ce_traceparent: the CloudEvents distributed-tracing extension
            headers += tracing.publish_span(self.topic, meta, subject, ce_type, notification.id)
        return headers

    def first_notifications(self, originator_ids: list[str]) -> dict[str, int]:
        """The notification id of each aggregate's first event (its partition count is the one then in force)."""
        recorder = self.app.recorder
        statement = sql.SQL(
            "SELECT originator_id::text AS id, notification_id FROM {table} "
            "WHERE originator_id = ANY(%s::{id_type}[]) AND originator_version = 1"
        ).format(table=sql.Identifier(recorder.datastore.schema, recorder.events_table_name),
                 id_type=sql.Identifier(recorder.datastore.originator_id_type))
        with self.db.transaction() as conn:
            return {r["id"]: r["notification_id"] for r in conn.execute(statement, (originator_ids,))}

    def counts_for(self, notifications: list[Any], plan: PartitionPlan) -> Callable[[Any], int]:
        """The partition count each notification of a batch is hashed by (one query when the count changed)."""
        after = plan.changed_after
        if not after or notifications[-1].id <= after:
            first = plan.steps[0][1] if after else plan.current
            return lambda _n: first
        later = list({str(n.originator_id) for n in notifications if n.id > after and n.originator_version > 1})
        firsts = self.first_notifications(later) if later else {}
        return lambda n: plan.count_at(n.id if n.originator_version == 1 else firsts.get(str(n.originator_id), n.id))

    def parent_headers(self, plan: PartitionPlan, count: int, partition: int) -> list[tuple[str, bytes]]:
        """For the first message on a partition that the count before ``count`` did not have (and each aggregate's
        first event placed there): its parent and the last sequence put on the parent before the switch, which the
        consumer waits for (services/runtime/README.md, *Partition-count changes*). Nothing when the parent had none."""
        growth = plan.growth(count)
        parent = parent_of(partition, growth[1]) if growth else None
        if growth is None or parent is None:
            return []
        upto = self.parent_sequence(plan, growth[0], parent)
        return [(PARENT_HEADER, str(parent).encode()), (PARENT_SEQUENCE_HEADER, str(upto).encode())] if upto else []

    def parent_sequence(self, plan: PartitionPlan, switch: int, parent: int, window: int = 256) -> int:
        """The last notification at or before ``switch`` that this relay publishes to ``parent`` (0: none), read
        backwards from the switch in growing windows, once per relay process (the same on every refill: the plan
        puts every event where it went first)."""
        known = self._parent_sequences.get((switch, parent))
        if known is not None:
            return known
        found, stop = 0, switch
        while stop > 0 and not found:
            start = max(1, stop - window + 1)
            notifications = [n for n in self.app.recorder.select_notifications(start=start, limit=stop - start + 1,
                                                                               stop=stop)]
            if notifications:
                count_of = self.counts_for(notifications, plan)
                for n, domain_event in zip(reversed(notifications), reversed(self.domain_events(notifications))):
                    if (partition_for(str(n.originator_id), count_of(n)) == parent
                            and self.to_contract(domain_event) is not None):
                        found = n.id
                        break
            stop, window = start - 1, window * 2
        self._parent_sequences[(switch, parent)] = found
        return found

    def domain_events(self, notifications: list[Any]) -> list[Any]:
        """The domain events of a batch of notifications: by the mapper's ``to_domain_events`` when it has one (the
        registry's reads the batch's data keys at once and opens only the personal values its contracts read,
        ``to_contract.personal_fields``), else one by one after its ``prefetch_stored``."""
        mapper = self.app.mapper
        many = getattr(mapper, "to_domain_events", None)
        if many is not None:
            return many(notifications, getattr(self.to_contract, "personal_fields", None))
        prefetch = getattr(mapper, "prefetch_stored", None)
        if prefetch is not None:
            prefetch(notifications)
        return [mapper.to_domain_event(n) for n in notifications]

    def publish_batch(self, state: RelayState) -> RelayState:
        """Produces the next batch of the held partitions and returns the state as produced (the same state when
        idle). A batch's state is stored once the broker acknowledged all of it (``settle``); the next batch is read
        and produced meanwhile, up to ``max_in_flight`` batches ahead, so reading, encoding and the broker's round
        trips overlap."""
        with collector_paused():
            return self._publish_batch(state)

    def _publish_batch(self, state: RelayState) -> RelayState:
        if not state.positions:
            self.settle(drain=True)
            return state
        notifications = self.app.recorder.select_notifications(start=state.position + 1, limit=self.batch_size)
        if not notifications:
            self.settle(drain=True)
            return state
        if time.monotonic() - self._last_broker_check > 0.5 or state.plan is None:
            self.settle(drain=True)  # the broker (and the leases) are checked against the durable state
            checked = self.check_broker(state)
            if checked.positions != state.positions or checked.cluster_id != state.cluster_id:
                return checked  # partitions moved, or refilling: start again from what is stored
            state = checked
        if not self.shards.plan_shared:  # the plan cannot change until this replica's next drain
            plan = self.shards.hold_plan()
            if plan is not None and plan != state.plan:
                state = replace(state, plan=plan)
        assert state.plan is not None
        chain = dict(state.chain)
        count_of = self.counts_for(notifications, state.plan)
        last = notifications[-1].id
        positions = state.positions
        mine: list[tuple[Any, int, int]] = []  # (notification, partition, count) of the partitions held here
        for n in notifications:
            count = count_of(n)
            partition = partition_for(str(n.originator_id), count)
            at = positions.get(partition)
            if at is not None and n.id > at:
                mine.append((n, partition, count))
        batch = _InFlight(RelayState({p: max(at, last) for p, at in positions.items()}, state.cluster_id, chain,
                                     state.plan), 0)
        if mine:
            self._produce(mine, state, chain, batch)
        self._in_flight.append(batch)
        self.settle()
        return batch.state

    def _produce(self, mine: list[tuple[Any, int, int]], state: RelayState, chain: dict[int, int],
                 batch: _InFlight) -> None:
        """Encodes a batch's public events, then produces them (``chain``: each partition's last sequence)."""
        assert state.plan is not None
        to_contract, produce, first_count = self.to_contract, self.producer.produce, state.plan.steps[0][1]
        messages: list[tuple[bytes, bytes, list[tuple[str, bytes]], int]] = []
        domain_events = self.domain_events([n for n, _p, _c in mine])
        for (notification, partition, count), domain_event in zip(mine, domain_events):
            contract = to_contract(domain_event)
            if contract is None:
                continue
            key = str(notification.originator_id)
            headers = self.headers_for(notification, key, domain_event, contract, chain.get(partition, 0))
            headers.append((PARTITIONS_HEADER, str(count).encode()))
            if count != first_count and (partition not in chain or notification.originator_version == 1):
                headers += self.parent_headers(state.plan, count, partition)
            messages.append((key.encode(), contract.model_dump_json().encode(), headers, partition))
            chain[partition] = notification.id
        # produced together once encoded: the producer's linger then gathers a whole batch per request instead of
        # the few that encoding let through in one linger (its threads' CPU, a loaded bench: ~25 → ~4 µs a message)
        for key_bytes, value, headers, partition in messages:
            while True:
                try:
                    produce(self.topic, key=key_bytes, value=value, headers=headers, partition=partition,
                            on_delivery=batch.delivered)
                    break
                except BufferError:
                    self.producer.poll(0.1)
            batch.left += 1
            batch.published += 1

    def settle(self, *, drain: bool = False, timeout_s: float = 30.0) -> None:
        """Stores the state of the newest batch whose messages (and all before) the broker acknowledged; waits
        while more than ``max_in_flight`` batches are out (all of them with ``drain``, which then lets go of the
        plan lock). A failed delivery raises: the relay starts again from the stored positions (consumers pass
        over what they already have)."""
        deadline = time.monotonic() + timeout_s
        self.producer.poll(0)
        while True:
            done: _InFlight | None = None
            while self._in_flight and self._in_flight[0].left <= 0:
                done = self._in_flight.popleft()
                if done.failures:
                    self._in_flight.clear()
                    self.log.warning("relay_delivery_failed", errors=done.failures[:3])
                    raise RuntimeError("delivery failed; batch will be retried")
                self.metrics.relay_published.labels(self.service, self.topic).inc(done.published)
            if done is not None:
                self.save_state(done.state)
                self.metrics.relay_position.labels(self.service).set(done.state.position)
            if not self._in_flight:
                if drain:
                    self.shards.release_plan()
                return
            if not drain and len(self._in_flight) <= self.max_in_flight:
                return
            if time.monotonic() > deadline:
                undelivered = sum(b.left for b in self._in_flight)
                self._in_flight.clear()
                self.log.warning("relay_delivery_failed", undelivered=undelivered)
                raise RuntimeError("delivery timed out; batch will be retried")
            self.producer.poll(0.05)

    def run(self, should_stop: Callable[[], bool]) -> None:
        """Runs until told to stop; survives database and broker outages by retrying."""
        self.log.info("relay_started", member=self.leases.member)
        state: RelayState | None = None
        backoff = 0.5
        self.leases.start_renewing()
        while not should_stop():
            try:
                self.leases.progressed()
                if not self.leadership.held():
                    state = None
                    self._standby_wait(should_stop)
                    continue
                if state is not None and self.leases.due() and time.monotonic() - self._last_broker_check <= 2.0:
                    self.settle(drain=True)  # a heartbeat alone (no broker round trip) unless partitions moved
                    if self._heartbeat() != set(state.positions):
                        state = self.check_broker(state)
                elif state is None or time.monotonic() - self._last_broker_check > 2.0:
                    self.settle(drain=True)
                    state = self.check_broker(state)
                new_state = self.publish_batch(state)
                if new_state is state:
                    self.update_lag(state)
                    self.wait_for_events(should_stop)
                state = new_state
                backoff = 0.5
            except Exception as exc:  # noqa: BLE001 - the relay must outlive outages
                self.log.warning("relay_retrying", error=error_text(exc), backoff_s=backoff)
                self._in_flight.clear()
                self._reset_producer()
                self.leases.drop(list(self.leases.held))  # the next heartbeat says what is still ours
                try:
                    self.shards.release_plan()
                except Exception:  # noqa: BLE001 - a lost session let go of it already
                    self.leadership.release()
                state = None
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        try:
            self.settle(drain=True, timeout_s=10)
        except Exception as exc:  # noqa: BLE001 - stopping: what was not stored is published again next time
            self.log.warning("relay_stop_unsettled", error=error_text(exc))
        try:
            self.leases.release_all()  # the others take the partitions at their next heartbeat
        except Exception as exc:  # noqa: BLE001 - the leases expire anyway
            self.log.warning("relay_leases_not_released", error=error_text(exc))
        self.leadership.release()
        self.log.info("relay_stopped")

    def _standby_wait(self, should_stop: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.standby_poll_s
        while not should_stop() and time.monotonic() < deadline:
            time.sleep(min(0.1, self.standby_poll_s))

    def wait_for_events(self, should_stop: Callable[[], bool]) -> None:
        """Sleeps until the event store notifies, the safety poll or the next heartbeat is due, or the relay is told
        to stop."""
        deadline = time.monotonic() + self.safety_poll_s
        while not should_stop() and not self.leases.due():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.leadership.wait(min(remaining, self.standby_poll_s, 1.0)):
                return

    def _heartbeat(self) -> set[int]:
        """The leases' heartbeat between broker checks: dead members evicted, leases renewed, taken or released;
        the partitions now held."""
        self.shards.release_plan()
        self.shards.evict_dead(self.member_lock)
        self.leases.tick(self._leased)
        return {p for _t, p in self.leases.held}

    def update_lag(self, state: RelayState) -> None:
        """Events stored and not yet published on the partitions this replica holds (0 when it holds none)."""
        max_id = self.app.recorder.max_notification_id() or 0
        self.metrics.relay_lag.labels(self.service).set(max(0, max_id - state.position) if state.positions else 0)
        self.metrics.relay_position.labels(self.service).set(state.position)
