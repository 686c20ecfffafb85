"""Kafka protocol helpers shared by the relay and the consumer loop (confluent-kafka only)."""

from __future__ import annotations

import hashlib
import uuid
import zlib
from datetime import datetime
from typing import Any

from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from contracts import Contract, Envelope

PARTITIONS_HEADER = "baoxue_partitions"  # transport header (not a CloudEvents attribute): the count the key was hashed by
_URL_NAMESPACE = uuid.NAMESPACE_URL.bytes


# A client that lost every broker is replaced by its owner (``BrokerWatch``) instead of reconnecting by itself: the
# broker that answers next at the same address may be a new cluster (the local tansu restarted empty, with a new
# cluster id), and a client that lived through that fetches by the old topic ids; tansu answers those with a zero
# topic id and a CurrentLeader tag, and librdkafka 2.16 then looks the topic up by a NULL name in its main thread:
# SIGSEGV (services/runtime/README.md, *Broker loss*). So such a client does not re-bootstrap, and reconnects late:
# librdkafka allows the next attempt ``reconnect.backoff.ms`` (less 25% jitter: 45 s) after the START of the last
# one, so a connection that was up u seconds may retry 45 - u s after it dropped (at once, then 45 s later, when
# u > 45). The owner's next poll sees ``_ALL_BROKERS_DOWN`` long before and builds a new client.
REPLACED_ON_LOSS = {
    "reconnect.backoff.ms": 60_000,
    "reconnect.backoff.max.ms": 120_000,
    "metadata.recovery.strategy": "none",
}


class BrokerWatch:
    """An ``error_cb`` for clients that are replaced when they lose every broker: ``lost`` is set by
    ``_ALL_BROKERS_DOWN`` (delivered by the client's own poll or consume) until ``reset`` (new clients)."""

    def __init__(self) -> None:
        self.lost: str | None = None

    def error_cb(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self.lost = error.str()

    def reset(self) -> None:
        self.lost = None

    def config(self) -> dict[str, Any]:
        """The settings of a client this watch replaces on loss (``REPLACED_ON_LOSS`` and the callback)."""
        return {**REPLACED_ON_LOSS, "error_cb": self.error_cb}


def partition_for(key: str, partitions: int) -> int:
    """A stable partition for an aggregate id, so refills land every event where it was before."""
    return zlib.crc32(key.encode()) % partitions


def ensure_topics(admin: AdminClient, names: list[str], partitions: int, timeout: float = 10,
                  replication_factor: int = 1) -> dict[str, int]:
    """Creates topics that are missing and grows those with fewer partitions than asked (a topic never shrinks);
    returns each topic's partition count afterwards. A broker that cannot add partitions (the local tansu has no
    CreatePartitions) leaves the count as it was: the caller compares."""
    existing = admin.list_topics(timeout=timeout).topics
    missing = [NewTopic(n, num_partitions=partitions, replication_factor=replication_factor)
               for n in names if n not in existing]
    counts = {n: len(existing[n].partitions) for n in names if n in existing}
    if missing:
        for name, future in admin.create_topics(missing, operation_timeout=timeout).items():
            try:
                future.result(timeout=timeout)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
            counts[name] = partitions
    small = [NewPartitions(n, partitions) for n, c in counts.items() if c < partitions]
    if small:
        for name, future in admin.create_partitions(small, operation_timeout=timeout).items():
            try:
                future.result(timeout=timeout)
                counts[name] = partitions
            except KafkaException as exc:
                if exc.args[0].code() not in (KafkaError._UNSUPPORTED_FEATURE, KafkaError.INVALID_PARTITIONS):
                    raise
    return counts


def event_id(originator_id: str, version: int) -> str:
    """uuid5(NAMESPACE_URL, "<id>/<version>") as text, without building UUID objects (the relay's hot path): the
    SHA-1's first 16 bytes in hex, the version nibble set to 5 and the variant bits to 10."""
    h = hashlib.sha1(_URL_NAMESPACE + f"{originator_id}/{version}".encode()).digest()[:16].hex()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


_VARIANT = {f"{n:x}": f"{(n & 0x3) | 0x8:x}" for n in range(16)}


def header_time(value: datetime | str) -> bytes:
    """A time as the CloudEvents binding writes it (ISO 8601, UTC as ``Z``); text is parsed as the Envelope would."""
    key = (value, value.utcoffset()) if isinstance(value, datetime) else value  # equal instants, other offsets
    known = _TIMES.get(key)
    if known is None:
        if len(_TIMES) >= _MEMO_SIZE:
            _TIMES.clear()
        known = _TIMES[key] = _header_time(value)
    return known


def _header_time(value: datetime | str) -> bytes:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    text = value.isoformat()
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"
    return text.encode()


_MEMO_SIZE = 4096
_TIMES: dict[Any, bytes] = {}
_SPEC = ("ce_specversion", b"1.0")
_JSON = ("content-type", b"application/json")


def binary_headers(attributes: dict[str, Any]) -> list[tuple[str, bytes]]:
    """CloudEvents 1.0 binary-mode Kafka headers (``ce_`` attributes, ``content-type``), as ``to_binary_event``
    writes them for a JSON payload; built directly because the library's validation was half the relay's time."""
    headers = [("ce_specversion", b"1.0"), ("content-type", b"application/json")]
    for name, value in attributes.items():
        if value is None:
            continue
        if name == "time":
            headers.append(("ce_time", header_time(value)))
        else:
            headers.append((f"ce_{name}", str(value).encode()))
    return headers


def message_headers(event_id_: str, source: str, type_: str, subject: str, time: datetime | str, version: int,
                    sequence: int, prev: int, actor_id: str, actor_role: str, jurisdiction: str, correlation_id: str,
                    causation_id: str | None) -> list[tuple[str, bytes]]:
    """``binary_headers`` of an Envelope's fields, positionally and without the intermediate dict (the relay's
    hot path; equal output, tested)."""
    headers = [
        _SPEC, _JSON, ("ce_id", event_id_.encode()), ("ce_source", source.encode()), ("ce_type", type_.encode()),
        ("ce_subject", subject.encode()), ("ce_time", header_time(time)), ("ce_aggregateversion", str(version).encode()),
        ("ce_sequence", str(sequence).encode()), ("ce_partitionprev", str(prev).encode()),
        ("ce_actorid", str(actor_id).encode()), ("ce_actorrole", str(actor_role).encode()),
        ("ce_jurisdiction", str(jurisdiction).encode()), ("ce_correlationid", str(correlation_id).encode()),
    ]
    if causation_id is not None:
        headers.append(("ce_causationid", str(causation_id).encode()))
    return headers


def encode(envelope: Envelope, payload: Contract) -> KafkaMessage:
    """A CloudEvents binary-mode message: attributes in ce_ headers, the payload's JSON as value, key = subject."""
    attributes = envelope.model_dump(exclude_none=True)
    headers = dict(binary_headers(attributes))
    return KafkaMessage(headers=headers, key=envelope.subject, value=payload.model_dump_json().encode())


def decode(headers: list[tuple[str, bytes]] | None, key: bytes | None, value: bytes | None) -> tuple[Envelope, Any]:
    """Parses a binary-mode message into its envelope and raw data (validated later by contract)."""
    message = KafkaMessage(headers=dict(headers or []), key=key, value=value or b"")
    event = from_binary_event(message)
    attributes = event.get_attributes()
    envelope = Envelope.model_validate({k: v for k, v in attributes.items() if k in Envelope.model_fields})
    return envelope, event.get_data()
