"""The consumer's public names in one place (services import them from here); the pieces live in
``consumer_messages`` (messages, errors), ``consumer_sinks`` (where effects land), ``consumer_leases`` (partition
leases shared by replicas), ``consumer_dlq`` (dead letters) and ``consumer_loop`` (the loop)."""

from services.runtime.consumer_dlq import DeadLetters
from services.runtime.consumer_leases import LEASES_DDL, Leases
from services.runtime.consumer_loop import POLL_WAIT_S, ConsumerLoop
from services.runtime.consumer_messages import (
    RETRYABLE,
    BatchConflict,
    Head,
    LeaseLost,
    Message,
    Policy,
    TransientError,
    dump_headers,
    peek,
)
from services.runtime.consumer_sinks import OFFSETS_DDL, EventSink, ProjectionSink, Sink

__all__ = [
    "BatchConflict", "ConsumerLoop", "DeadLetters", "EventSink", "Head", "LEASES_DDL", "LeaseLost", "Leases",
    "Message", "OFFSETS_DDL", "POLL_WAIT_S", "Policy", "ProjectionSink", "RETRYABLE", "Sink", "TransientError",
    "dump_headers", "peek",
]
