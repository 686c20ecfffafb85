"""Where the aggregates lived before the rooms: events stored under those topics still resolve to today's classes."""

from __future__ import annotations

from eventsourcing.utils import get_topic, register_topic

from services.registry.domain.comparisons import Finding
from services.registry.domain.configuration import ComparisonRuleSet
from services.registry.domain.erasure import Erasure
from services.registry.domain.jurisdictions import Division
from services.registry.domain.population import Child
from services.registry.domain.registration import School, Student

LEGACY: dict[str, type] = {
    "services.registry.domain:School": School,
    "services.registry.domain:Student": Student,
    "services.registry.population:Child": Child,
    "services.registry.comparisons:Finding": Finding,
    "services.registry.configuration:ComparisonRuleSet": ComparisonRuleSet,
    "services.registry.jurisdictions:Division": Division,
    "services.registry.erasure:Erasure": Erasure,
}


def register_legacy_topics() -> None:
    """Old aggregate topics resolve to the moved classes (idempotent; the library refuses only a different class)."""
    for topic, cls in LEGACY.items():
        register_topic(topic, cls)


def prefixes_of(*classes: type) -> tuple[str, ...]:
    """Every topic prefix an aggregate's stored events may carry: today's and the one before the rooms."""
    return tuple(get_topic(cls) for cls in classes) + tuple(t for t, c in LEGACY.items() if c in classes)


def event_topics(*classes: type) -> frozenset[str]:
    """Every stored topic of the aggregates' event classes (today's and the legacy ones)."""
    out: set[str] = set()
    for agg in classes:
        events = [cls for cls in vars(agg).values() if isinstance(cls, type) and hasattr(cls, "mutate")]
        for cls in events:
            out.add(get_topic(cls))
            out.update(f"{t}.{cls.__name__}" for t, c in LEGACY.items() if c is agg)
    return frozenset(out)

