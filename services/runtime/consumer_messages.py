"""What the consumer loop hands around: messages, their heads read from headers, and the errors it tells apart."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

import psycopg
from eventsourcing.persistence import IntegrityError as ConcurrencyError
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError

from contracts import Contract, Envelope


class TransientError(Exception):
    """A failure worth retrying (database or network), never dead-lettered."""


class LeaseLost(TransientError):
    """This member no longer holds a partition's lease: its effects must not commit (another member applies them)."""


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


def peek(headers: list[tuple[str, bytes]] | dict[str, bytes] | None) -> Head | None:
    """The message's head, or None where the headers are not a CloudEvent's (then the message is unreadable)."""
    h = headers if isinstance(headers, dict) else dict(headers or ())
    try:
        if h["ce_specversion"] != b"1.0":
            return None
        return Head(type=h["ce_type"].decode(), subject=h["ce_subject"].decode(), sequence=int(h["ce_sequence"]),
                    partitionprev=int(h.get("ce_partitionprev", b"0")), id=h["ce_id"].decode(),
                    correlationid=h.get("ce_correlationid", b"").decode(), actorid=h.get("ce_actorid", b"").decode())
    except (KeyError, ValueError, UnicodeDecodeError, AttributeError):  # AttributeError: a header without a value
        return None


_ENVELOPE_HEADERS = tuple((f"ce_{name}", name) for name in Envelope.model_fields)
_validate_envelope = Envelope.__pydantic_validator__.validate_python  # what ``Envelope.model_validate`` calls


def envelope_of(headers: dict[str, bytes]) -> Envelope:
    """The Envelope of a CloudEvents 1.0 binary-mode message, validated from its ``ce_`` headers (as
    ``kafka.decode`` reads it through the cloudevents binding, whose attribute validation and date parsing were
    most of a consumer's decoding time; equal result, tested). Raises ``ValueError`` (pydantic's
    ``ValidationError`` is one) for headers that are not an envelope."""
    if headers.get("ce_specversion") != b"1.0":
        raise ValueError("not a CloudEvents 1.0 binary-mode message")
    # the header bytes as they are: pydantic's lax mode reads a str, int or datetime from UTF-8 bytes as from
    # the decoded text (equal envelopes, tested), in Rust instead of thirteen ``bytes.decode`` calls; bytes that
    # are not UTF-8 are a ValidationError (so still an invalid envelope), as is a header without a value
    return _validate_envelope({name: headers[header] for header, name in _ENVELOPE_HEADERS if header in headers})


@dataclass(frozen=True)
class Message:
    """A validated message handed to a policy."""

    envelope: Envelope
    payload: Contract
    traceparent: str | None = None  # the CloudEvents distributed-tracing extension, read only while tracing
    tracestate: str | None = None


Policy = Callable[..., Any]  # EventSink: (message) -> aggregates; ProjectionSink: (message, conn) -> None


def dump_headers(headers: list[tuple[str, bytes]] | None) -> str:
    """Headers as JSON, for diagnostics."""
    return json.dumps({k: v.decode(errors="replace") for k, v in headers or []})
