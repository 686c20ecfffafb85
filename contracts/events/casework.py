"""Casework (一人一案) public events."""

from datetime import date, datetime
from typing import Annotated, Literal

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


class CaseDeadlineApproachingV1(Contract):
    """A pending case deadline falls due in a few days (once per planned reminder, ``days_before`` of the
    configured ones, default 3 and 1): its owners are reminded. A deadline set closer than a reminder gets none for it;
    reminders that came due together are one message, the nearest."""

    topic = topics.CASEWORK
    case_id: Id
    township_code: JurisdictionCode
    timer_id: Id
    kind: Literal["ladder", "follow_up"]
    step: LadderStep | None
    due_at: datetime
    days_before: int = Field(ge=1, description="The reminder this is: the deadline is at most this many days away")


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


# -- added with issue 12 (every case action a public event) -------------------------------------------
# Work records travel as ids, codes, counts and dates; visitors' lines, findings, notes, measures, addressees
# and amounts of free text stay inside casework.
HelpKind = Literal[
    "financial_aid", "two_exemptions_one_subsidy", "boarding_subsidy", "nutrition_programme",
    "psychological_support", "pairing", "home_teaching", "transport", "legal_aid", "other_department", "other",
]
HelpCategory = Literal[
    "subsidy", "home_teaching", "transport", "boarding", "psychological", "legal_aid", "other_department", "other",
]
PersuasionMethod = Literal["home_visit", "phone", "meeting", "letter", "online"]
PersuasionOutcome = Literal["agreed_to_return", "undecided", "refused", "unreachable"]
PersuasionPlace = Literal["home", "school", "village_office", "township_office", "workplace", "remote", "other"]
Relation = Literal["child", "father", "mother", "grandparent", "guardian", "relative", "employer", "other"]
UserId = Annotated[str, Field(min_length=1, max_length=128, description="Opaque user id of a platform account")]


class HomeVisitRecordedV1(Contract):
    """A home visit (家访) was recorded: when, how many went and met whom, with how much evidence."""

    topic = topics.CASEWORK
    case_id: Id
    township_code: JurisdictionCode
    record_id: Id
    visited_at: datetime
    visitor_count: int = Field(ge=1)
    met_count: int = Field(ge=0)
    evidence_count: int = Field(ge=0)
    recorded_by: UserId | None
    recorded_at: datetime


class PersuasionAttemptedV1(Contract):
    """A persuasion attempt (劝返): outcome, how, who tried (user ids), where, and with whom (relations)."""

    topic = topics.CASEWORK
    case_id: Id
    township_code: JurisdictionCode
    record_id: Id
    method: PersuasionMethod
    outcome: PersuasionOutcome
    persuaders: list[UserId] = Field(description="Who tried: the recording user and any named co-workers")
    place: PersuasionPlace | None
    with_whom: list[Relation] = Field(default_factory=list, description="Whom they spoke with, as relations")
    attempted_at: datetime


class HelpProvidedV1(Contract):
    """Help (帮扶) was given to the child or family: its kind and the category it counts under."""

    topic = topics.CASEWORK
    case_id: Id
    township_code: JurisdictionCode
    record_id: Id
    kind: HelpKind
    category: HelpCategory
    amount_yuan: float | None = Field(None, ge=0)
    provided_by: UserId | None
    provided_at: datetime


class CasePlanSetV1(Contract):
    """The case plan (一人一案方案) was set or superseded: its version, size and target return day."""

    topic = topics.CASEWORK
    case_id: Id
    township_code: JurisdictionCode
    record_id: Id
    plan_version: int = Field(ge=1)
    measure_count: int = Field(ge=1)
    target_return_on: date | None
    set_by: UserId | None
    set_at: datetime


class LegalStepFields(BaseModel):
    """Fields every legal step carries: its document reference and how it came about (not itself a contract)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    case_id: Id
    student_id: Id
    township_code: JurisdictionCode
    document_no: str = Field(min_length=1, max_length=100, description="文书编号, the issued document's reference")
    issued_by: UserId | None
    issued_at: datetime
    overridden: bool = Field(description="True when the previous step was skipped by an allowed role with a reason")
    automatic: bool = Field(description="True when a missed deadline configured to escalate took this step")
    evidence_count: int = Field(ge=0)


class ReturnNoticeIssuedV1(LegalStepFields, Contract):
    """书面复学通知书: the guardian is told in writing to return the child by the deadline."""

    topic = topics.CASEWORK

    deadline_at: datetime


class CorrectionOrderIssuedV1(LegalStepFields, Contract):
    """责令限期改正: the township orders the guardian to correct by the deadline."""

    topic = topics.CASEWORK

    deadline_at: datetime


class LegalDocumentsIssuedV1(LegalStepFields, Contract):
    """司法文书: legal documents are served, with a deadline."""

    topic = topics.CASEWORK

    deadline_at: datetime


class CourtReferralMadeV1(LegalStepFields, Contract):
    """提请法院（巡回法庭）: the case goes to court; no further deadline of casework's own."""

    topic = topics.CASEWORK

    deadline_at: datetime | None = None


class CaseOwnersReassignedV1(Contract):
    """A named person took over one owner slot (调整责任人); the previous holder is kept."""

    topic = topics.CASEWORK
    case_id: Id
    township_code: JurisdictionCode
    slot: OwnerSlot
    line: Literal["government", "education"]
    user_id: UserId
    previous_user_id: UserId | None
    reassigned_by: UserId | None
    reassigned_at: datetime
