"""Erasure of a child's personal data (依法删除, crypto-shredding): the aggregate that records it.

An `Erasure` aggregate records who asked, on which legal basis (PIPL art. 47) and who approved; then every
data key of the child (its registration, its population record, its findings) is destroyed, so the sealed
personal values in every stored event and every backup of them can no longer be opened. Codes, statuses,
dates and counts stay (the child still counts where it counted; hash chains elsewhere hold no personal data);
`StudentErased.v1` tells the other services to drop the masked forms they keep.
"""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.registry.domain import pseudonyms

# PIPL (个人信息保护法) art. 47 grounds for deletion, and a court or supervisory order
LEGAL_BASES = ("purpose_fulfilled", "retention_expired", "consent_withdrawn", "unlawful_processing", "order")


def erasure_id_for(student_id: str) -> uuid.UUID:
    return pseudonyms.keyed_uuid("erasure", student_id)


class Erasure(Aggregate):
    """One child's erasure: legal basis, reference, approver and actor (no personal data)."""

    @event("Recorded")
    def __init__(self, student_id: str, legal_basis: str, reference: str, approved_by: str, township_code: str,
                 meta: dict[str, Any]):
        self.student_id = student_id
        self.legal_basis = legal_basis
        self.reference = reference
        self.approved_by = approved_by
        self.township_code = township_code
        self.meta = meta

    @staticmethod
    def create_id(student_id: str, **_: Any) -> uuid.UUID:
        return erasure_id_for(student_id)
