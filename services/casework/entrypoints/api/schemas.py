"""Request and response models of the casework API beyond listing and reporting."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.runtime.validation import FiniteFloat, SafeId, SafeLine, SafeText


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EvidenceRef(_In):
    """A piece of evidence by reference: the file's SHA-256 and where it is stored (never the file itself)."""

    kind: Literal["photo", "document", "certificate", "enrolment_proof", "assessment", "signed_notice", "other"]
    sha256: SafeId = Field(pattern=r"^[0-9a-fA-F]{64}$")
    location: SafeLine = Field(min_length=1, max_length=500, description="Storage location, e.g. s3://bucket/key")
    description: SafeText | None = Field(None, max_length=500)
    media_type: Literal["image/jpeg", "image/png", "image/webp", "application/pdf"] | None = Field(
        None, description="An uploaded file's type as the service read it (POST /v1/cases/{case_id}/photos)")
    size_bytes: int | None = Field(None, ge=1, le=100_000_000, description="An uploaded file's size in bytes")


class RecordBase(_In):
    record_id: SafeId | None = Field(None, min_length=1, max_length=64,
                                  description="Client-chosen id; a retry with it is harmless (or Idempotency-Key)")


class VerificationCreate(_In):
    outcome: Literal["not_dropout", "dropout"]
    reason: SafeId | None = Field(None, max_length=64, description="not_dropout: in_school_elsewhere, moved, abroad, deceased, ...")
    finding: SafeText | None = Field(None, max_length=4000, description="not_dropout: what verification found")
    evidence: list[EvidenceRef] = Field(default_factory=list)
    causes: list[SafeId] = Field(default_factory=list, description="dropout: learning_difficulty, working_away, ...")
    cause_analysis: SafeText | None = Field(None, max_length=4000, description="dropout: 原因分析")


class HomeCreate(_In):
    village_code: SafeId = Field(pattern=r"^[0-9]{12}$")
    group: SafeLine | None = Field(None, max_length=50)


class OwnerUpdate(_In):
    user_id: SafeId = Field(min_length=1, max_length=128)
    name: SafeLine | None = Field(None, max_length=100)
    reason: SafeText = Field(min_length=1, max_length=1000, description="Why the owner changes (调整原因)")


class HomeVisitCreate(RecordBase):
    visited_at: datetime
    visitors: list[SafeLine] = Field(min_length=1, max_length=20)
    met: list[SafeLine] = Field(default_factory=list, max_length=20, description="Whom they met: 学生, 父亲, 祖母 ...")
    findings: SafeText = Field(min_length=1, max_length=4000)
    evidence: list[EvidenceRef] = Field(default_factory=list)


class PersuasionCreate(RecordBase):
    method: Literal["home_visit", "phone", "meeting", "letter", "online"]
    outcome: Literal["agreed_to_return", "undecided", "refused", "unreachable"]
    note: SafeText = Field(min_length=1, max_length=4000)
    persuaders: list[SafeId] = Field(default_factory=list, max_length=20,
                                     description="User ids of co-workers who took part (the recorder is added)")
    place: Literal["home", "school", "village_office", "township_office", "workplace", "remote", "other"] | None = None
    with_whom: list[Literal["child", "father", "mother", "grandparent", "guardian", "relative", "employer",
                            "other"]] = Field(default_factory=list, max_length=8, description="Whom they spoke with")


class HelpCreate(RecordBase):
    help_type: Literal["financial_aid", "two_exemptions_one_subsidy", "boarding_subsidy", "nutrition_programme",
                       "psychological_support", "pairing", "home_teaching", "transport", "legal_aid",
                       "other_department", "other"]
    detail: SafeText = Field(min_length=1, max_length=2000)
    amount_yuan: FiniteFloat | None = Field(None, ge=0, le=100_000_000, description="元; finite, at most 1亿")


class PlanCreate(RecordBase):
    measures: list[SafeLine] = Field(min_length=1, max_length=50)
    target_return_on: date | None = None


class EvidenceCreate(RecordBase):
    evidence: list[EvidenceRef] = Field(min_length=1, max_length=50)
    note: SafeText = Field("", max_length=2000)


class LegalStepCreate(_In):
    step: Literal["return_notice", "correction_order", "legal_documents", "court_referral"]
    document_no: SafeId = Field(min_length=1, max_length=100, description="文书编号")
    addressee: SafeLine = Field(min_length=1, max_length=200, description="送达对象（监护人）")
    deadline: date | None = Field(None, description="限期: the last day; default by configuration")
    override_reason: SafeText | None = Field(None, max_length=2000, description="Why the previous step is skipped")
    evidence: list[EvidenceRef] = Field(default_factory=list)


class ReturnCreate(_In):
    returned_on: date
    evidence: list[EvidenceRef] = Field(default_factory=list)


class ClosureCreate(_In):
    reason: SafeId = Field(min_length=1, max_length=64, description="returned, in_school_elsewhere, moved, abroad, deceased, record_error, ...")
    evidence: list[EvidenceRef] = Field(min_length=0, max_length=50)
    note: SafeText = Field("", max_length=2000)


class ClosureDecision(_In):
    approve: bool
    comment: SafeText = Field("", max_length=2000)


class ExclusionCreate(_In):
    basis: Literal["severe_disability", "severe_illness"]
    note: SafeText = Field(min_length=1, max_length=2000)
    evidence: list[EvidenceRef] = Field(min_length=1, max_length=50)


class RetractionCreate(_In):
    trigger_id: SafeId = Field(min_length=1, max_length=64)
    reason: SafeText = Field(min_length=1, max_length=1000)


class ResponsibilityEntry(_In):
    slot: Literal["township", "village", "group", "school_leader", "head_teacher", "subject_teacher"]
    user_id: SafeId = Field(min_length=1, max_length=128)
    name: SafeLine | None = Field(None, max_length=100)
    village_code: SafeId | None = Field(None, pattern=r"^[0-9]{12}$")
    group: SafeLine | None = Field(None, max_length=50)
    school_id: SafeId | None = Field(None, max_length=64)
    student_id: SafeId | None = Field(None, max_length=64)


class ResponsibilityImport(_In):
    entries: list[ResponsibilityEntry] = Field(max_length=50_000)
    replace: bool = Field(False, description="True: the entries are the whole table (others are dropped)")


class ResponsibilityMapPublic(BaseModel):
    township_code: str
    version: int
    entries: list[dict[str, Any]]


class QueueItemPublic(BaseModel):
    case_id: str
    slot: str
    line: str
    stage: str
    township_code: str
    next_action: str | None
    next_due_at: datetime | None
    opened_at: datetime


class ChainProblemPublic(BaseModel):
    case_id: str
    version: int
    event: str
    problem: str


class CaseAuditPublic(BaseModel):
    case_id: str
    intact: bool
    version: int
    head: str
    problems: list[ChainProblemPublic]


class StoreAuditPublic(BaseModel):
    scope: str = Field(description="Jurisdiction the figures cover: yours, or `*` (the whole store) for "
                                   "province auditors")
    intact: bool
    cases: int
    events: int
    digest: str = Field(description="sha256 over the chain head of every case in `scope`; keep it to compare later")
    matches_expected: bool | None = Field(None, description="Set when expected_digest was given")
    problems: list[ChainProblemPublic] = Field(description="Problems in cases inside `scope`")
    problems_elsewhere: int = Field(description="Problems in cases whose opening is unreadable, so whose jurisdiction "
                                                "is unknown (shown to province auditors only; could be yours)")
