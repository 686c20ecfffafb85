"""Casework (一人一案) public events."""

from datetime import datetime
from typing import Literal

from contracts import topics
from contracts.base import Contract
from contracts.events.common import Id, JurisdictionCode

CaseSource = Literal["attendance", "census", "transfer", "transition", "report"]


class CaseOpenedV1(Contract):
    """A case is opened for a child episode (疑似辍学 stage)."""

    topic = topics.CASEWORK
    case_id: Id
    student_id: Id
    school_id: Id | None
    township_code: JurisdictionCode
    source: CaseSource
    trigger_id: Id
    opened_at: datetime
