"""The relay: follows a service's events table (the outbox) and publishes public events to Kafka.

At-least-once: the position is stored only after the broker acknowledged every message of a batch.
One active relay per service (a PostgreSQL advisory lock). A broker that lost its data (its cluster
id changed, or the topic is gone) is refilled from the first event. Each message names the previous
sequence published to its partition, so consumers can prove they missed nothing.

A quiet relay does not poll: the event store's insert sends NOTIFY on a channel named after its events
table (eventsourcing's PostgreSQL recorder does it in every insert transaction), the relay LISTENs on its
leadership connection and looks as soon as one arrives; a slow safety poll catches anything a NOTIFY missed.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from contracts import Contract, Envelope
from services.runtime.db import Database, Leadership
from services.runtime.kafka import encode, ensure_topics, partition_for
from services.runtime.logging import error_text
from services.runtime.metrics import Metrics

ToContract = Callable[[Any], Contract | None]

RELAY_DDL = """
CREATE TABLE IF NOT EXISTS relay_position (
    topic text PRIMARY KEY,
    position bigint NOT NULL,
    cluster_id text,
    chain jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now()
);
"""


@dataclass
class RelayState:
    """What the relay has durably published: last notification id, broker identity, partition chain."""

    position: int = 0
    cluster_id: str | None = None
    chain: dict[int, int] = field(default_factory=dict)


class Relay:
    """Publishes one service's public events from its event store to its topic."""

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
        self.bootstrap = bootstrap
        self.admin = AdminClient({"bootstrap.servers": bootstrap})
        self.producer = self._new_producer()
        self.channel: str | None = getattr(app.recorder, "channel_name", None)  # None in memory: polls only
        self.leadership = Leadership(db.url, f"baoxue-relay:{service}", self.log, listen=self.channel)
        self._last_broker_check = 0.0
        db.execute_script(RELAY_DDL)

    def _new_producer(self) -> Producer:
        """An idempotent producer; rebuilt when the broker changed (its producer ids are gone)."""
        return Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
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

    # -- leadership -------------------------------------------------------------------------
    def acquire_leadership(self) -> bool:
        """Takes the service's relay advisory lock; only its holder publishes."""
        return self.leadership.held()

    # -- state ------------------------------------------------------------------------------
    def load_state(self) -> RelayState:
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM relay_position WHERE topic = %s", (self.topic,)).fetchone()
        if row is None:
            return RelayState()
        return RelayState(row["position"], row["cluster_id"], {int(k): v for k, v in row["chain"].items()})

    def save_state(self, state: RelayState) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO relay_position (topic, position, cluster_id, chain, updated_at) "
                "VALUES (%s, %s, %s, %s, now()) ON CONFLICT (topic) DO UPDATE SET "
                "position = EXCLUDED.position, cluster_id = EXCLUDED.cluster_id, chain = EXCLUDED.chain, "
                "updated_at = now()",
                (self.topic, state.position, state.cluster_id, json.dumps({str(k): v for k, v in state.chain.items()})),
            )

    def check_broker(self, state: RelayState) -> RelayState:
        """Refills from the start when the broker is not the one the stored position refers to."""
        metadata = self.admin.list_topics(timeout=5)
        cluster_id = metadata.cluster_id
        topic_missing = self.topic not in metadata.topics
        if topic_missing:
            ensure_topics(self.admin, [self.topic], self.partitions)
        if state.cluster_id != cluster_id or topic_missing:
            if state.position > 0:
                self.log.warning(
                    "relay_broker_lost_data_refilling",
                    stored_cluster=state.cluster_id,
                    broker_cluster=cluster_id,
                    topic_missing=topic_missing,
                    from_position=state.position,
                )
                self.metrics.relay_refills.labels(self.service).inc()
            if state.cluster_id is not None:
                self._reset_producer()
            state = RelayState(0, cluster_id, {})
            self.save_state(state)
        self._last_broker_check = time.monotonic()
        return state

    # -- publishing -------------------------------------------------------------------------
    def envelope_for(self, notification: Any, domain_event: Any, contract: Contract, prev: int) -> Envelope:
        meta = getattr(domain_event, "meta", None) or {}
        jurisdiction = getattr(contract, "township_code", None) or meta.get("jurisdiction") or "00"
        return Envelope(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{notification.originator_id}/{notification.originator_version}")),
            source=f"/baoxue/{self.service}",
            type=contract.ce_type(),
            subject=str(notification.originator_id),
            time=meta.get("at") or domain_event.timestamp,
            aggregateversion=notification.originator_version,
            sequence=notification.id,
            partitionprev=prev,
            actorid=meta.get("actor_id", f"system:{self.service}"),
            actorrole=meta.get("actor_role", "system"),
            jurisdiction=jurisdiction,
            correlationid=meta.get("correlation_id") or str(notification.originator_id),
            causationid=meta.get("causation_id"),
        )

    def publish_batch(self, state: RelayState) -> RelayState:
        """Publishes the next batch and returns the new durable state (the same state when idle)."""
        notifications = self.app.recorder.select_notifications(start=state.position + 1, limit=self.batch_size)
        if not notifications:
            return state
        if time.monotonic() - self._last_broker_check > 0.5:
            checked = self.check_broker(state)
            if checked.position != state.position:
                return checked  # refilling: start again from the first event
        chain = dict(state.chain)
        failures: list[str] = []
        published = 0

        def on_delivery(err: Any, _msg: Any) -> None:
            if err is not None:
                failures.append(str(err))

        prefetch = getattr(self.app.mapper, "prefetch_stored", None)
        if prefetch is not None:  # a mapper that needs keys per aggregate (registry) reads a batch's at once
            prefetch(notifications)
        for notification in notifications:
            domain_event = self.app.mapper.to_domain_event(notification)
            contract = self.to_contract(domain_event)
            if contract is None:
                continue
            key = str(notification.originator_id)
            partition = partition_for(key, self.partitions)
            envelope = self.envelope_for(notification, domain_event, contract, chain.get(partition, 0))
            message = encode(envelope, contract)
            while True:
                try:
                    self.producer.produce(
                        self.topic,
                        key=key.encode(),
                        value=message.value,
                        headers=list(message.headers.items()),
                        partition=partition,
                        on_delivery=on_delivery,
                    )
                    break
                except BufferError:
                    self.producer.poll(0.1)
            chain[partition] = notification.id
            published += 1
        remaining = self.producer.flush(30)
        if remaining or failures:
            self.log.warning("relay_delivery_failed", undelivered=remaining, errors=failures[:3])
            raise RuntimeError("delivery failed; batch will be retried")
        new_state = RelayState(notifications[-1].id, state.cluster_id, chain)
        self.save_state(new_state)
        self.metrics.relay_published.labels(self.service, self.topic).inc(published)
        self.metrics.relay_position.labels(self.service).set(new_state.position)
        return new_state

    def run(self, should_stop: Callable[[], bool]) -> None:
        """Runs until told to stop; survives database and broker outages by retrying."""
        self.log.info("relay_started")
        state: RelayState | None = None
        backoff = 0.5
        while not should_stop():
            try:
                if not self.acquire_leadership():
                    state = None
                    time.sleep(1.0)
                    continue
                if state is None:
                    state = self.check_broker(self.load_state())
                elif time.monotonic() - self._last_broker_check > 2.0:
                    state = self.check_broker(state)
                new_state = self.publish_batch(state)
                if new_state is state:
                    self.update_lag(state)
                    self.wait_for_events(should_stop)
                state = new_state
                backoff = 0.5
            except Exception as exc:  # noqa: BLE001 - the relay must outlive outages
                self.log.warning("relay_retrying", error=error_text(exc), backoff_s=backoff)
                self._reset_producer()
                state = None
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        self.producer.flush(10)
        self.leadership.release()
        self.log.info("relay_stopped")

    def wait_for_events(self, should_stop: Callable[[], bool]) -> None:
        """Sleeps until the event store notifies, the safety poll is due, or the relay is told to stop."""
        deadline = time.monotonic() + self.safety_poll_s
        while not should_stop():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.leadership.wait(min(remaining, 1.0)):
                return

    def update_lag(self, state: RelayState) -> None:
        max_id = self.app.recorder.max_notification_id() or 0
        self.metrics.relay_lag.labels(self.service).set(max(0, max_id - state.position))
        self.metrics.relay_position.labels(self.service).set(state.position)
