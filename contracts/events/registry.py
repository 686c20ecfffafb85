"""Registry (学籍与适龄人口) public events.

Least exposure: a child's name and national ID number never leave the registry in clear; events
carry an opaque student id and masked forms for display.
"""

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts import topics
from contracts.base import Contract
from contracts.events.common import Grade, Id, JurisdictionCode

SchoolLevel = Literal["primary", "junior", "nine_year", "special"]


class SchoolRegisteredV1(Contract):
    """A school exists in a county and township."""

    topic = topics.REGISTRY
    school_id: Id
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    level: SchoolLevel
    county_code: JurisdictionCode
    township_code: JurisdictionCode


class StudentEnrolledV1(Contract):
    """A child is registered (学籍) at a school in a grade and class."""

    topic = topics.REGISTRY
    student_id: Id
    school_id: Id
    county_code: JurisdictionCode
    township_code: JurisdictionCode
    grade: Grade
    class_name: str = Field(min_length=1, max_length=50)
    name_masked: str = Field(description="Name with all but the first and last characters masked")
    id_number_masked: str = Field(description="National ID number with birth date and sequence masked")
    head_teacher_id: str | None = Field(None, description="User id of the class head teacher (班主任)")
    head_teacher_name: str | None = None


# -- enrolment lifecycle (学籍变动) ----------------------------------------------------------------------
Placement = Literal["regular_class", "special_school", "home_delivery"]
ClosureReason = Literal["deceased", "moved_away", "emigrated"]


class StudentTransferredOutV1(Contract):
    """转出: the record left a school; a receiving school must transfer the child in (else TransferLost)."""

    topic = topics.REGISTRY
    student_id: Id
    school_id: Id
    township_code: JurisdictionCode
    on: date
    reason: str
    to_school_id: Id | None = None
    to_region_code: JurisdictionCode | None = None


class StudentTransferredInV1(Contract):
    """转入: a school received a child who had transferred out."""

    topic = topics.REGISTRY
    student_id: Id
    school_id: Id
    county_code: JurisdictionCode
    township_code: JurisdictionCode
    grade: Grade
    class_name: str = Field(min_length=1, max_length=50)
    on: date


class StudentSuspendedV1(Contract):
    """休学 with approval: the child still counts as in school."""

    topic = topics.REGISTRY
    student_id: Id
    school_id: Id
    township_code: JurisdictionCode
    on: date
    until: date | None = None
    reason: str


class StudentResumedV1(Contract):
    """复学 after a suspension."""

    topic = topics.REGISTRY
    student_id: Id
    school_id: Id
    township_code: JurisdictionCode
    on: date
    grade: Grade


class StudentGraduatedV1(Contract):
    """毕业: a primary graduate must next be admitted to a junior school (小升初), else TransitionMissed."""

    topic = topics.REGISTRY
    student_id: Id
    school_id: Id
    township_code: JurisdictionCode
    on: date
    level: Literal["primary", "junior"]


class StudentAdmittedV1(Contract):
    """升学 (小升初): a primary graduate is registered at a junior school in grade 7."""

    topic = topics.REGISTRY
    student_id: Id
    school_id: Id
    county_code: JurisdictionCode
    township_code: JurisdictionCode
    grade: Grade
    class_name: str = Field(min_length=1, max_length=50)
    on: date


class DisabledChildPlacedV1(Contract):
    """残疾儿童安置: 随班就读, 特教学校 or 送教上门; every placement counts as in school."""

    topic = topics.REGISTRY
    student_id: Id
    school_id: Id
    township_code: JurisdictionCode
    placement: Placement
    on: date
    disability_degree: str | None = None


class StudentRegistrationClosedV1(Contract):
    """注销学籍: the child died, moved away or emigrated (reported by public security)."""

    topic = topics.REGISTRY
    student_id: Id
    school_id: Id
    township_code: JurisdictionCode
    on: date
    reason: ClosureReason
    source: str


# -- the population (适龄人口) ------------------------------------------------------------------------
class ChildLifeEventReportedV1(Contract):
    """Public security reports a death, a move out of the area or emigration (closes matters about the child)."""

    topic = topics.REGISTRY
    student_id: Id = Field(description="The child's stable public id (the same as a registration's student_id)")
    township_code: JurisdictionCode
    status: ClosureReason
    on: date
    source: str


class ChildLifeEventCorrectedV1(Contract):
    """The source withdrew a wrong death or move report: the child is resident again."""

    topic = topics.REGISTRY
    student_id: Id
    township_code: JurisdictionCode
    reason: str


class ChildEnrolmentDeferredV1(Contract):
    """延缓入学, approved by the county: the child is not out of school until the date."""

    topic = topics.REGISTRY
    student_id: Id
    township_code: JurisdictionCode
    until: date
    reason: str


# -- comparisons that find children (each retracted by its compensating event) ---------------------------
class OutOfSchoolChildIdentifiedV1(Contract):
    """户籍 vs 学籍: a resident child of compulsory age has no registration (失学)."""

    topic = topics.REGISTRY
    finding_id: Id
    student_id: Id
    township_code: JurisdictionCode
    reason_code: str
    episode: str = Field(description="School year of the census comparison, e.g. 2026")
    name_masked: str
    id_number_masked: str
    special_groups: list[str] = Field(default_factory=list)


class OutOfSchoolChildRetractedV1(Contract):
    """An out-of-school finding no longer holds (registered, deceased, moved away, deferred, not of age...)."""

    topic = topics.REGISTRY
    finding_id: Id
    student_id: Id
    township_code: JurisdictionCode
    reason_code: str


class TransferLostV1(Contract):
    """A transfer out not matched by a transfer in within the configured number of days."""

    topic = topics.REGISTRY
    finding_id: Id
    student_id: Id
    school_id: Id | None
    township_code: JurisdictionCode
    reason_code: str
    transferred_out_on: date
    days: int = Field(ge=1)


class TransferLostRetractedV1(Contract):
    """A lost transfer was found (transferred in, placed, or the child died or moved away)."""

    topic = topics.REGISTRY
    finding_id: Id
    student_id: Id
    township_code: JurisdictionCode
    reason_code: str


class TransitionMissedV1(Contract):
    """小升初: a primary graduate has no junior registration once the next school year started."""

    topic = topics.REGISTRY
    finding_id: Id
    student_id: Id
    school_id: Id | None
    township_code: JurisdictionCode
    reason_code: str
    graduated_on: date


class TransitionMissedRetractedV1(Contract):
    """A missed transition was resolved (admitted to a junior school, or the child died or moved away)."""

    topic = topics.REGISTRY
    finding_id: Id
    student_id: Id
    township_code: JurisdictionCode
    reason_code: str


class SchoolClosedV1(Contract):
    """撤并: a school closes on a date; its children must be transferred."""

    topic = topics.REGISTRY
    school_id: Id
    township_code: JurisdictionCode
    on: date
    reason: str
    merged_into: Id | None = None


class SchoolTownshipChangedV1(Contract):
    """A school belongs to another township from a date (乡镇撤并: its township was merged into another).

    Services that keep a school's township (attendance, casework, reporting) move it from `effective` on."""

    topic = topics.REGISTRY
    school_id: Id
    from_township_code: JurisdictionCode
    township_code: JurisdictionCode
    county_code: JurisdictionCode
    effective: date
    reason: str = Field(description="township_merged")
    division_code: JurisdictionCode | None = Field(None, description="The division whose change moved the school")


# -- administrative divisions (行政区划) ---------------------------------------------------------------
JurisdictionLevel = Literal["province", "prefecture", "county", "township", "village"]


class JurisdictionRegisteredV1(Contract):
    """A division exists from a date: loaded from the packaged MCA code list, or a township/village added later.

    `code` is the official code as the registry keeps it (provinces and prefectures in six digits, e.g. 520000,
    520100); its significant prefix (52, 5201) is the code other contracts and reporting use for that level."""

    topic = topics.REGISTRY
    code: JurisdictionCode
    name: str = Field(min_length=1, max_length=100, description="Official name (行政区划名称) from the effective date")
    level: JurisdictionLevel
    parent_code: JurisdictionCode | None = None
    effective_from: date


class JurisdictionChangedV1(Contract):
    """A division is renamed, merged into another (撤并) or abolished from a date (its code is not reused)."""

    topic = topics.REGISTRY
    code: JurisdictionCode
    kind: Literal["renamed", "merged", "abolished"]
    name: str | None = Field(None, min_length=1, max_length=100, description="The new name (renamed)")
    successor_code: JurisdictionCode | None = Field(None, description="The surviving division (merged)")
    effective: date


DisabilityDegree = Literal["1", "2", "3", "4"]
GroupSource = Literal["public_security", "civil_affairs", "disability_federation", "poverty_alleviation", "education"]


class SpecialGroup(BaseModel):
    """One special-group membership (特殊群体) as codes: which group, since when, until when, who said so."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    group: str = Field(pattern=r"^[a-z][a-z_]{1,39}$", description=(
        "Group code: left_behind 留守儿童, migrant 随迁子女, disabled 残疾儿童, orphan 孤儿, de_facto_unsupported "
        "事实无人抚养, hardship 困境儿童, registered_poor 建档立卡, poverty_exit 脱贫户, monitored 监测户, marginal 边缘户, "
        "returning 返乡儿童, single_parent 单亲家庭, learning_difficulty 学困生"))
    since: date = Field(description="The date of the first source report that named the group")
    until: date | None = Field(None, description="The date of the report that no longer named it (null: current)")
    source: GroupSource = Field(description="The department whose record names the group (the most authoritative)")
    degree: DisabilityDegree | None = Field(None, description="残疾等级 一至四级, for the disabled group only")


class SpecialGroupsChangedV1(Contract):
    """A child's special groups changed: the whole list (current ones and those that ended), codes only.

    Least exposure: no name, ID number, guardian or address; the child is the stable opaque `student_id`."""

    topic = topics.REGISTRY
    student_id: Id
    township_code: JurisdictionCode = Field(description="Where the child lives (resolved residence), when it changed")
    groups: list[SpecialGroup] = Field(default_factory=list, max_length=64)


ErasureBasis = Literal["purpose_fulfilled", "retention_expired", "consent_withdrawn", "unlawful_processing", "order"]


class StudentErasedV1(Contract):
    """A child's personal data was erased (依法删除, PIPL art. 47): the registry destroyed its keys.

    Every consumer drops what it keeps about the student that is personal or quasi-personal (masked name,
    masked ID number, guardian contacts, free text) from its read models, inboxes and exports, and keeps the
    opaque id, codes, dates and counts (hash chains over them still verify)."""

    topic = topics.REGISTRY
    student_id: Id
    township_code: JurisdictionCode = Field(description="The jurisdiction the erasure was decided in")
    legal_basis: ErasureBasis
    erased_on: date
