"""Deterministic ids: the same fact always names the same aggregate, so duplicates meet and merge."""

from __future__ import annotations

import uuid
from functools import lru_cache

NAMESPACE = uuid.UUID("0c5a1f4e-7d1b-4e5a-8a1c-3f2e9b6d4c02")
# Per-student ids are asked for several times a message (the batch's prefetch, the policy, the aggregate's
# create_id): remembered for the last ones, as a uuid5 is a SHA-1 and two objects (~3 µs).
IDS_REMEMBERED = 16_384


def case_id_for(source: str, trigger_id: str) -> uuid.UUID:
    """Deterministic case id: the same trigger can never open two cases, even across children."""
    return uuid.uuid5(NAMESPACE, f"case:{source}:{trigger_id}")


@lru_cache(maxsize=IDS_REMEMBERED)
def child_cases_id_for(student_id: str) -> uuid.UUID:
    """Deterministic id of a child's case file: every open for one child meets on one aggregate."""
    return uuid.uuid5(NAMESPACE, f"child:{student_id}")


def responsibility_map_id_for(township_code: str) -> uuid.UUID:
    """One responsibility map (双线四包责任表) per township."""
    return uuid.uuid5(NAMESPACE, f"responsibility-map:{township_code[:9]}")


@lru_cache(maxsize=IDS_REMEMBERED)
def placement_id_for(student_id: str) -> uuid.UUID:
    """One placement record (school, class, head teacher as registry last said) per student."""
    return uuid.uuid5(NAMESPACE, f"placement:{student_id}")
