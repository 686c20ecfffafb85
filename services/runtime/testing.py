"""Helpers for service tests: in-memory applications, messages as a consumer would receive them,
and authenticated clients. Fakes, not mocks."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, TypeVar

from contracts import Contract, Envelope
from services.runtime.auth import Actor, TokenCodec
from services.runtime.consumer import Message
from services.runtime.settings import DEV_JWT_SECRET

A = TypeVar("A")
_sequence = {"n": 0}


def in_memory(app_cls: type[A]) -> A:
    """The application on eventsourcing's in-memory persistence (fast domain/application tests)."""
    return app_cls(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})  # type: ignore[call-arg]


def message(payload: Contract, *, subject: str | None = None, sequence: int | None = None, **envelope: Any) -> Message:
    """A validated message as the consumer loop hands it to a policy."""
    if sequence is None:
        _sequence["n"] += 1
        sequence = _sequence["n"]
    fields: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "source": f"/baoxue/{payload.topic.split('.')[1]}",
        "type": payload.ce_type(),
        "subject": subject or str(uuid.uuid4()),
        "time": datetime.now(timezone.utc),
        "aggregateversion": 1,
        "sequence": sequence,
        "partitionprev": 0,
        "actorid": "system:test",
        "actorrole": "system",
        "jurisdiction": getattr(payload, "township_code", "52"),
        "correlationid": str(uuid.uuid4()),
    }
    fields.update(envelope)
    return Message(Envelope(**fields), payload)


def token(role: str, jurisdiction: str, user_id: str = "tester", secret: str = DEV_JWT_SECRET, **extra: Any) -> str:
    """A bearer token for tests."""
    return TokenCodec(secret).mint(Actor(user_id=user_id, role=role, jurisdiction=jurisdiction, **extra))


def auth(role: str, jurisdiction: str, **extra: Any) -> dict[str, str]:
    """An Authorization header for tests."""
    return {"Authorization": f"Bearer {token(role, jurisdiction, **extra)}"}
