"""Tamper evidence: every case event seals its content and the previous seal (a hash chain per case).

The seal is sha256 over the canonical JSON of (case id, version, event name, record time, data, meta
without the seal, previous seal). Editing a stored event breaks its own seal; rewriting seals breaks
the store-wide digest an auditor keeps.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate

ENVELOPE_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "meta", "originator_topic"})
GENESIS = "0" * 64


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"cannot seal {type(value).__name__}")


def canonical(value: Any) -> bytes:
    """One byte form for equal content, whatever container types storage gave back."""
    return json.dumps(value, default=_plain, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def seal(*, case_id: Any, version: int, event: str, timestamp: datetime, data: dict[str, Any],
         meta: dict[str, Any], previous: str) -> str:
    """The seal of one event given the seal before it."""
    body = {
        "case_id": str(case_id),
        "version": version,
        "event": event,
        "timestamp": timestamp,
        "data": data,
        "meta": {k: v for k, v in meta.items() if k != "chain"},
        "previous": previous,
    }
    return hashlib.sha256(previous.encode() + canonical(body)).hexdigest()


class ChainedAggregate(Aggregate):
    """An aggregate whose every event carries ``meta["chain"]``, the seal over it and its predecessor."""

    class Event(Aggregate.Event):
        def mutate(self, aggregate: Any) -> Any:
            aggregate = super().mutate(aggregate)
            aggregate.chain_head = self.meta.get("chain", GENESIS)  # type: ignore[attr-defined]
            return aggregate

    class Created(Event, Aggregate.Created):
        pass

    @classmethod
    def _create(cls, event_class: Any, *, id: Any = None, **kwargs: Any) -> Any:
        kwargs["timestamp"] = kwargs.get("timestamp") or event_class.create_timestamp()
        originator_id = id if id is not None else cls.create_id(**kwargs)
        kwargs["meta"] = _sealed(originator_id, cls.INITIAL_VERSION, event_class, kwargs, GENESIS)
        return super()._create(event_class, id=originator_id, **kwargs)

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        kwargs["timestamp"] = kwargs.get("timestamp") or event_class.create_timestamp()
        kwargs["meta"] = _sealed(self.id, self.version + 1, event_class, kwargs, getattr(self, "chain_head", GENESIS))
        super().trigger_event(event_class, **kwargs)


def _sealed(case_id: Any, version: int, event_class: Any, kwargs: dict[str, Any], previous: str) -> dict[str, Any]:
    meta = dict(kwargs.get("meta") or {})
    data = {k: v for k, v in kwargs.items() if k not in ENVELOPE_FIELDS}
    meta["chain"] = seal(case_id=case_id, version=version, event=event_class.__name__,
                         timestamp=kwargs["timestamp"], data=data, meta=meta, previous=previous)
    return meta


@dataclass(frozen=True)
class ChainProblem:
    """Where a case's chain breaks and how."""

    case_id: str
    version: int
    event: str
    problem: str


def verify_chain(case_id: Any, events: Iterable[Any]) -> tuple[str, int, list[ChainProblem]]:
    """Recomputes a case's seals from its stored events; returns (head, last version, problems)."""
    previous, expected_version, problems = GENESIS, 1, []
    for e in events:
        name = type(e).__name__
        if e.originator_version != expected_version:
            problems.append(ChainProblem(str(case_id), expected_version, name, "missing_event"))
        meta = dict(getattr(e, "meta", None) or {})
        data = {k: v for k, v in e.__dict__.items() if k not in ENVELOPE_FIELDS}
        recomputed = seal(case_id=case_id, version=e.originator_version, event=name, timestamp=e.timestamp,
                          data=data, meta=meta, previous=previous)
        stored = meta.get("chain")
        if stored != recomputed:
            problems.append(ChainProblem(str(case_id), e.originator_version, name,
                                         "missing_seal" if stored is None else "content_changed"))
        previous = stored or recomputed
        expected_version = e.originator_version + 1
    return previous, expected_version - 1, problems


def store_digest(heads: dict[str, tuple[int, str]]) -> str:
    """One digest over every case's chain head (case id, last version, head), in case-id order."""
    lines = "".join(f"{case_id}:{version}:{head}\n" for case_id, (version, head) in sorted(heads.items()))
    return hashlib.sha256(lines.encode()).hexdigest()
