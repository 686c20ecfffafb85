"""Kafka protocol helpers shared by the relay and the consumer loop (confluent-kafka only)."""

from __future__ import annotations

import zlib
from typing import Any

from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event, to_binary_event
from cloudevents.core.v1.event import CloudEvent
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from contracts import Contract, Envelope


def partition_for(key: str, partitions: int) -> int:
    """A stable partition for an aggregate id, so refills land every event where it was before."""
    return zlib.crc32(key.encode()) % partitions


def ensure_topics(admin: AdminClient, names: list[str], partitions: int, timeout: float = 10) -> None:
    """Creates topics that are missing (an existing topic is left alone)."""
    existing = admin.list_topics(timeout=timeout).topics
    missing = [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names if n not in existing]
    if not missing:
        return
    for name, future in admin.create_topics(missing, operation_timeout=timeout).items():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise


def encode(envelope: Envelope, payload: Contract) -> KafkaMessage:
    """A CloudEvents binary-mode Kafka message: attributes in ce_ headers, payload JSON as value."""
    attributes: dict[str, Any] = {
        "id": envelope.id,
        "source": envelope.source,
        "type": envelope.type,
        "subject": envelope.subject,
        "time": envelope.time,
        "datacontenttype": "application/json",
        "aggregateversion": envelope.aggregateversion,
        "sequence": envelope.sequence,
        "partitionprev": envelope.partitionprev,
        "actorid": envelope.actorid,
        "actorrole": envelope.actorrole,
        "jurisdiction": envelope.jurisdiction,
        "correlationid": envelope.correlationid,
    }
    if envelope.causationid:
        attributes["causationid"] = envelope.causationid
    event = CloudEvent(attributes=attributes, data=payload.model_dump(mode="json"))
    return to_binary_event(event, key_mapper=lambda _e: envelope.subject)


def decode(headers: list[tuple[str, bytes]] | None, key: bytes | None, value: bytes | None) -> tuple[Envelope, Any]:
    """Parses a binary-mode message into its envelope and raw data (validated later by contract)."""
    message = KafkaMessage(headers=dict(headers or []), key=key, value=value or b"")
    event = from_binary_event(message)
    attributes = event.get_attributes()
    envelope = Envelope.model_validate({k: v for k, v in attributes.items() if k in Envelope.model_fields})
    return envelope, event.get_data()
