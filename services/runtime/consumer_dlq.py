"""The dead-letter topic of a consumer: poison messages go there with the reason and error in headers."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient

from contracts import topics
from services.runtime.consumer_messages import TransientError
from services.runtime.kafka import ensure_topics
from services.runtime.metrics import Metrics


class DeadLetters:
    """An idempotent producer for ``baoxue.dlq.<consumer>``; rebuilt when the broker changed."""

    def __init__(self, *, service: str, name: str, bootstrap: str, partitions: int, metrics: Metrics,
                 log: Any, replication_factor: int = 1) -> None:
        self.service, self.name, self.bootstrap, self.partitions = service, name, bootstrap, partitions
        self.replication_factor = replication_factor
        self.metrics, self.log = metrics, log
        self.topic = topics.dead_letter(name)
        self.producer = self._new_producer()

    def _new_producer(self) -> Producer:
        return Producer(
            {"bootstrap.servers": self.bootstrap, "enable.idempotence": True, "acks": "all", "message.timeout.ms": 15000}
        )

    def reset(self) -> None:
        try:
            self.producer.purge()
            self.producer.flush(0)
        except Exception:  # noqa: BLE001 - the old producer is being discarded anyway
            pass
        self.producer = self._new_producer()

    def send(self, msg: Any, reason: str, error: str) -> None:
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
            ensure_topics(AdminClient({"bootstrap.servers": self.bootstrap}), [self.topic], self.partitions,
                          replication_factor=self.replication_factor)
        except KafkaException as exc:  # the broker is away: the message is read again later
            raise TransientError(f"dead-letter topic unavailable: {exc}") from exc
        self.producer.produce(
            self.topic, key=msg.key(), value=msg.value(), headers=headers,
            on_delivery=lambda err, _m: errors.append(err) if err is not None else None,
        )
        if self.producer.flush(20) or errors:
            self.reset()  # its producer id may belong to a broker that lost its data
            raise TransientError("dead-letter topic unavailable")
        self.metrics.dead_lettered.labels(self.service, self.name, reason).inc()
        self.log.error("message_dead_lettered", reason=reason, error=error[:500],
                       source=f"{msg.topic()}/{msg.partition()}/{msg.offset()}")
