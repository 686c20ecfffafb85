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


# Values the edge accepts (no control character) that a projection must still apply: separators, quotes,
# backslashes, escapes, SQL and CSV metacharacters, right-to-left text, a long string.
ODD_TEXTS = ("gov;7", "a;b=c;", "x\"y'z`", "back\\slash\\", "%3B%25=;", "'); DROP TABLE ledger; --", "=1+2,\"\"",
             "\u202e\u4e2d\u6587\ufeff", "长" * 120, "w" * 4000)


def odd_variant(payload: Contract, index: int = 0) -> Contract:
    """``payload`` with its free-text fields (not ids or codes) and its owners' user ids replaced by odd values the
    contract still accepts (a value it refuses could never have been published, so the field keeps its value)."""
    data = payload.model_dump()
    n = index

    def odd(value: Any, valid: Any) -> Any:
        nonlocal n
        for k in range(len(ODD_TEXTS)):
            candidate = ODD_TEXTS[(n + k) % len(ODD_TEXTS)]
            if valid(candidate):
                n += 1
                return candidate
        return value

    def accepts(key: str, nested: tuple[str, int, str] | None = None) -> Any:
        def check(candidate: str) -> bool:
            trial = payload.model_dump()
            if nested:
                trial[nested[0]][nested[1]][nested[2]] = candidate
            else:
                trial[key] = candidate
            try:
                type(payload).model_validate(trial)
            except ValueError:
                return False
            return True

        return check

    for key, value in list(data.items()):
        if isinstance(value, str) and not key.endswith(("_id", "_code", "_at", "_on")):
            data[key] = odd(value, accepts(key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict) and isinstance(item.get("user_id"), str):
                    item["user_id"] = odd(item["user_id"], accepts(key, (key, i, "user_id")))
    return type(payload).model_validate(data)
