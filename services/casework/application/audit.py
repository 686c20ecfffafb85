"""Audit: verify one case's hash chain, or every case's, and the digest over all chain heads.

Reads the stored events themselves (not any read model), so an edit made directly in the database
is seen: the event whose content no longer matches its seal is named with its case and version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from services.casework.adapters.projections import is_case_event
from services.casework.domain import NotFound
from services.casework.domain.chain import (
    ENVELOPE_FIELDS,
    GENESIS,
    ChainProblem,
    seal,
    store_digest,
)


@dataclass(frozen=True)
class CaseAudit:
    case_id: str
    version: int
    head: str
    problems: list[ChainProblem]

    @property
    def intact(self) -> bool:
        return not self.problems


@dataclass
class StoreAudit:
    cases: int = 0
    events: int = 0
    digest: str = ""
    problems: list[ChainProblem] = field(default_factory=list)
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)
    events_of: dict[str, int] = field(default_factory=dict)
    townships: dict[str, str | None] = field(default_factory=dict, repr=False)

    @property
    def intact(self) -> bool:
        return not self.problems

    def within(self, inside: Callable[[str | None], bool]) -> StoreAudit:
        """The same audit restricted to the cases whose opening township ``inside`` accepts (None: unreadable)."""
        kept = {c for c in self.heads if inside(self.townships.get(c))}
        heads = {c: h for c, h in self.heads.items() if c in kept}
        return StoreAudit(cases=len(heads), events=sum(self.events_of.get(c, 0) for c in kept),
                          digest=store_digest(heads), problems=[p for p in self.problems if p.case_id in kept],
                          heads=heads, events_of={c: self.events_of.get(c, 0) for c in kept},
                          townships={c: self.townships.get(c) for c in kept})


def verify_case(app: Any, case_id: UUID) -> CaseAudit:
    """Recomputes one case's seals from its stored events."""
    stored = app.recorder.select_events(case_id)
    if not stored or not is_case_event(stored[0].topic):
        raise NotFound("案件不存在", rule="case_exists")
    audit, heads = StoreAudit(), {}
    for record in stored:
        _check(app, record, heads, audit)
    version, head = heads[str(case_id)]
    return CaseAudit(str(case_id), version, head, audit.problems)


def verify_store(app: Any, batch_size: int = 1000) -> StoreAudit:
    """Recomputes every case's chain in one pass over the notification log; digest over all heads."""
    audit = StoreAudit()
    heads: dict[str, tuple[int, str]] = {}
    position = 0
    while batch := app.recorder.select_notifications(start=position + 1, limit=batch_size):
        for n in batch:
            if is_case_event(n.topic):
                _check(app, n, heads, audit)
        position = batch[-1].id
    audit.cases = len(heads)
    audit.digest = store_digest(heads)
    audit.heads = heads
    return audit


def _check(app: Any, record: Any, heads: dict[str, tuple[int, str]], audit: StoreAudit) -> None:
    """Checks one stored event against the chain so far and advances the case's head."""
    case_id = str(record.originator_id)
    version, previous = heads.get(case_id, (0, GENESIS))
    audit.events += 1
    audit.events_of[case_id] = audit.events_of.get(case_id, 0) + 1
    audit.townships.setdefault(case_id, None)
    name = record.topic.rsplit(".", 1)[-1]
    if record.originator_version != version + 1:
        audit.problems.append(ChainProblem(case_id, version + 1, "?", "missing_event"))
    try:
        e = app.mapper.to_domain_event(record)
    except Exception:  # noqa: BLE001 - an undecodable event is itself the finding
        audit.problems.append(ChainProblem(case_id, record.originator_version, name, "undecodable"))
        heads[case_id] = (record.originator_version, previous)
        return
    if e.originator_version == 1:
        audit.townships[case_id] = getattr(e, "township_code", None)
    meta = dict(getattr(e, "meta", None) or {})
    data = {k: v for k, v in e.__dict__.items() if k not in ENVELOPE_FIELDS}
    stored = meta.get("chain")
    recomputed = seal(case_id=case_id, version=e.originator_version, event=name, timestamp=e.timestamp,
                      data=data, meta=meta, previous=previous)
    if stored != recomputed:
        audit.problems.append(ChainProblem(case_id, e.originator_version, name,
                                           "missing_seal" if stored is None else "content_changed"))
    heads[case_id] = (e.originator_version, stored or recomputed)
