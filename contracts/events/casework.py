"""Casework (一人一案) public events."""

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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


# -- added with issue 5 (verification, owners, escalation, deadlines, return, closure) -----------------
NotDropoutReason = Literal[
    "in_school_elsewhere", "moved", "abroad", "deceased", "record_error", "deferral_or_suspension", "special_placement"
]
DropoutCause = Literal[
    "learning_difficulty", "working_away", "poverty", "illness_or_disability", "family", "early_marriage",
    "distance_or_conditions", "other",
]
OwnerSlot = Literal["township", "village", "group", "school_leader", "head_teacher", "subject_teacher"]
LadderStep = Literal["return_notice", "correction_order", "legal_documents", "court_referral"]
ClosureReason = Literal[
    "returned", "in_school_elsewhere", "moved", "abroad", "deceased", "record_error", "deferral_or_suspension",
    "special_placement", "trigger_retracted",
]


class CaseVerifiedV1(Contract):
    """Verification (核查) ended: not a dropout with a reason code, or a confirmed dropout with cause codes."""

    topic = topics.CASEWORK
    case_id: Id
    student_id: Id
    township_code: JurisdictionCode
    outcome: Literal["not_dropout", "dropout"]
    reason: NotDropoutReason | None = Field(None, description="Set when the outcome is not_dropout")
    causes: list[DropoutCause] = Field(default_factory=list, description="Set when the outcome is dropout")
    verified_at: datetime


class OwnerChange(BaseModel):
    """One slot of a case and who holds it now (and before)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slot: OwnerSlot
    line: Literal["government", "education"]
    user_id: str = Field(min_length=1, max_length=128)
    previous_user_id: str | None = Field(None, max_length=128)


class CaseOwnersAssignedV1(Contract):
    """Named owners (劝返责任人) hold slots of a case on the government and education lines."""

    topic = topics.CASEWORK
    case_id: Id
    township_code: JurisdictionCode
    owners: list[OwnerChange] = Field(min_length=1)
    automatic: bool = Field(description="True when taken from the responsibility map, False for a reassignment")
    assigned_at: datetime


class CaseEscalatedV1(Contract):
    """A step of the legal ladder was taken (通知书, 责令限期改正, 司法文书, 法院)."""

    topic = topics.CASEWORK
    case_id: Id
    student_id: Id
    township_code: JurisdictionCode
    step: LadderStep
    issued_at: datetime
    deadline_at: datetime | None
    overridden: bool = Field(description="True when the previous step was skipped by an allowed role with a reason")
    automatic: bool = Field(description="True when a missed deadline configured to escalate took this step")


class CaseDeadlinePassedV1(Contract):
    """A case deadline passed (once per timer): a ladder step's deadline or the end of follow-up."""

    topic = topics.CASEWORK
    case_id: Id
    township_code: JurisdictionCode
    timer_id: Id
    kind: Literal["ladder", "follow_up"]
    step: LadderStep | None
    due_at: datetime
    action: Literal["alert", "escalate"]


class CaseReturnedV1(Contract):
    """The child is back in school (复学); follow-up runs until the given day."""

    topic = topics.CASEWORK
    case_id: Id
    student_id: Id
    township_code: JurisdictionCode
    source: Literal["attendance", "school_confirmation"]
    returned_on: date
    follow_up_until: date


class CaseRelapsedV1(Contract):
    """A child who had returned is out of school again; the case is back at persuasion."""

    topic = topics.CASEWORK
    case_id: Id
    student_id: Id
    township_code: JurisdictionCode
    trigger_id: Id
    reopened: bool = Field(description="True when the case had been closed (销号) and is reopened")
    relapsed_at: datetime


class CaseClosedV1(Contract):
    """The case is closed (销号) with a reason and evidence; the child leaves the open ledger."""

    topic = topics.CASEWORK
    case_id: Id
    student_id: Id
    township_code: JurisdictionCode
    reason: ClosureReason
    evidence_count: int = Field(ge=0)
    approved_by: str | None = Field(None, max_length=128, description="County approver, where approval is required")
    closed_at: datetime


class CaseExcludedFromCountV1(Contract):
    """The child cannot study (severe disability or illness) and is excluded from the dropout count."""

    topic = topics.CASEWORK
    case_id: Id
    student_id: Id
    township_code: JurisdictionCode
    basis: Literal["severe_disability", "severe_illness"]
    excluded_at: datetime
