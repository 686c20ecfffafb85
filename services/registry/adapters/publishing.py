"""The stored-event -> contract mapping (`to_contract`, what the relay runs): least exposure, ids and masks only."""

from __future__ import annotations

from datetime import date
from typing import Any, Callable

from contracts import Contract
from contracts.events import SchoolRegisteredV1, StudentEnrolledV1
from contracts.events import registry as c
from services.runtime.aggregates import load
from services.registry.domain.comparisons import Finding
from services.registry.domain.registration import School, Student, mask_id_number, mask_name
from services.registry.domain.erasure import Erasure
from services.registry.domain.jurisdictions import Division
from services.registry.domain.population import Child

CodeOf = Callable[[Any], str | None]

_STUDENT = {
    "TransferredOut": lambda e: c.StudentTransferredOutV1(
        student_id=str(e.originator_id), school_id=e.school_id, township_code=e.township_code, on=e.on,
        reason=e.reason, to_school_id=e.to_school_id, to_region_code=e.to_region_code),
    "TransferredIn": lambda e: c.StudentTransferredInV1(
        student_id=str(e.originator_id), school_id=e.school_id, county_code=e.county_code,
        township_code=e.township_code, grade=e.grade, class_name=e.class_name, on=e.on),
    "Suspended": lambda e: c.StudentSuspendedV1(
        student_id=str(e.originator_id), school_id=e.school_id, township_code=e.township_code, on=e.on,
        until=e.until, reason=e.reason),
    "Resumed": lambda e: c.StudentResumedV1(
        student_id=str(e.originator_id), school_id=e.school_id, township_code=e.township_code, on=e.on, grade=e.grade),
    "Graduated": lambda e: c.StudentGraduatedV1(
        student_id=str(e.originator_id), school_id=e.school_id, township_code=e.township_code, on=e.on,
        level=e.level),
    "Admitted": lambda e: c.StudentAdmittedV1(
        student_id=str(e.originator_id), school_id=e.school_id, county_code=e.county_code,
        township_code=e.township_code, grade=e.grade, class_name=e.class_name, on=e.on),
    "Placed": lambda e: c.DisabledChildPlacedV1(
        student_id=str(e.originator_id), school_id=e.school_id, township_code=e.township_code,
        placement=e.placement, on=e.on, disability_degree=e.disability_degree),
    "Closed": lambda e: c.StudentRegistrationClosedV1(
        student_id=str(e.originator_id), school_id=e.school_id, township_code=e.township_code, on=e.on,
        reason=e.reason, source=e.source),
}
_CHILD = {
    "LifeEventReported": lambda e: c.ChildLifeEventReportedV1(
        student_id=e.student_id, township_code=e.township_code, status=e.status, on=e.on, source=e.source),
    "LifeEventCorrected": lambda e: c.ChildLifeEventCorrectedV1(
        student_id=e.student_id, township_code=e.township_code, reason=e.reason),
    "EnrolmentDeferred": lambda e: c.ChildEnrolmentDeferredV1(
        student_id=e.student_id, township_code=e.township_code, until=e.until, reason=e.reason),
}
_IDENTIFIED = {
    "out_of_school": lambda f, e, ev: c.OutOfSchoolChildIdentifiedV1(
        finding_id=f, student_id=e.student_id, township_code=e.township_code, reason_code=e.reason_code,
        episode=e.episode, name_masked=ev.get("name_masked", "*"), id_number_masked=ev.get("id_number_masked", "*"),
        special_groups=list(ev.get("flags", []))),
    "transfer_lost": lambda f, e, ev: c.TransferLostV1(
        finding_id=f, student_id=e.student_id, school_id=e.school_id, township_code=e.township_code,
        reason_code=e.reason_code, transferred_out_on=ev["transferred_out_on"], days=ev["days"]),
    "transition_missed": lambda f, e, ev: c.TransitionMissedV1(
        finding_id=f, student_id=e.student_id, school_id=e.school_id, township_code=e.township_code,
        reason_code=e.reason_code, graduated_on=ev["graduated_on"]),
}
_RETRACTED = {
    "out_of_school": c.OutOfSchoolChildRetractedV1,
    "transfer_lost": c.TransferLostRetractedV1,
    "transition_missed": c.TransitionMissedRetractedV1,
}


def to_contract(e: Any, code_of: CodeOf | None = None) -> Contract | None:
    """The public contract of a stored registry event (None: internal only); `code_of` names a division change
    stored before changes carried their code (the relay's mapper looks the division aggregate up)."""
    if isinstance(e, School.Registered):
        return SchoolRegisteredV1(school_id=str(e.originator_id), code=e.code, name=e.name, level=e.level,
                                  county_code=e.county_code, township_code=e.township_code)
    if isinstance(e, Student.Enrolled):
        return StudentEnrolledV1(
            student_id=str(e.originator_id), school_id=e.school_id, county_code=e.county_code,
            township_code=e.township_code, grade=e.grade, class_name=e.class_name, name_masked=mask_name(e.name),
            id_number_masked=mask_id_number(e.id_number), head_teacher_id=e.head_teacher_id,
            head_teacher_name=e.head_teacher_name)
    kind = type(e).__name__
    if isinstance(e, Division.Event):
        return division_contract(e, code_of)
    if isinstance(e, Child.Event) and kind == "SpecialGroupsChanged":
        return c.SpecialGroupsChangedV1(student_id=e.student_id, township_code=e.township_code,
                                        groups=[c.SpecialGroup(**g) for g in e.groups])
    if isinstance(e, Student.Event) and kind in _STUDENT:
        return _STUDENT[kind](e)
    if isinstance(e, Child.Event) and kind in _CHILD:
        return _CHILD[kind](e)
    if isinstance(e, School.Event) and kind == "Closed":
        return c.SchoolClosedV1(school_id=str(e.originator_id), township_code=e.township_code, on=e.on,
                                reason=e.reason, merged_into=e.merged_into)
    if isinstance(e, School.Event) and kind == "TownshipChanged":
        return c.SchoolTownshipChangedV1(school_id=str(e.originator_id), from_township_code=e.from_township_code,
                                         township_code=e.township_code, county_code=e.county_code,
                                         effective=e.effective, reason=e.reason, division_code=e.division_code)
    if isinstance(e, Erasure.Event):
        at = (getattr(e, "meta", None) or {}).get("at")
        return c.StudentErasedV1(student_id=e.student_id, township_code=e.township_code, legal_basis=e.legal_basis,
                                 erased_on=date.fromisoformat(at[:10]) if at else e.timestamp.date())
    if isinstance(e, Finding.Event) and kind in ("Identified", "Reidentified"):
        ev = e.evidence
        fields = {"student_id": ev["student_id"], "school_id": ev.get("school_id"), "episode": ev["episode"]}
        view = _View(township_code=e.township_code, reason_code=e.reason_code, **fields)
        return _IDENTIFIED[ev["kind"]](str(e.originator_id), view, ev)
    if isinstance(e, Finding.Event) and kind == "Retracted":
        ev = e.evidence
        return _RETRACTED[ev["kind"]](finding_id=str(e.originator_id), student_id=ev["student_id"],
                                      township_code=ev["township_code"], reason_code=e.reason_code)
    return None


class _View:
    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


def division_contract(e: Any, code_of: CodeOf | None = None) -> Contract | None:
    """行政区划: established → JurisdictionRegistered; renamed / merged into / abolished → JurisdictionChanged.

    Changes stored before they carried their division's code are named through `code_of` (the relay passes a
    lookup of the division aggregate); without one they are not published."""
    kind = type(e).__name__
    if kind == "Established":
        return c.JurisdictionRegisteredV1(code=e.code, name=e.name, level=e.level, parent_code=e.parent_code,
                                          effective_from=e.effective)
    code = getattr(e, "code", None) or (code_of(e.originator_id) if code_of else None)
    if code is None:
        return None
    if kind == "Renamed":
        return c.JurisdictionChangedV1(code=code, kind="renamed", name=e.name, effective=e.effective)
    if kind == "MergedInto":
        return c.JurisdictionChangedV1(code=code, kind="merged", successor_code=e.target_code, effective=e.effective)
    if kind == "Abolished":
        return c.JurisdictionChangedV1(code=code, kind="abolished", effective=e.effective)
    return None


# The personal values `to_contract` reads (to mask them): the relay opens only these in the events it maps, the
# others stay sealed (`SealingMapper.to_domain_events`). A contract reading another must name it here (the relay
# test compares every published message with the fully opened events').
PERSONAL_FIELDS = frozenset({"name", "id_number", "name_masked", "id_number_masked"})


class ContractMapper:
    """`to_contract` with the event store's division lookup (what the relay runs), naming the personal values it
    reads (`personal_fields`)."""

    personal_fields = PERSONAL_FIELDS

    def __init__(self, store: Any) -> None:
        self.store = store

    def code_of(self, division_id: Any) -> str | None:
        return getattr(load(self.store.repository, object, division_id), "code", None)

    def __call__(self, domain_event: Any) -> Contract | None:
        return to_contract(domain_event, self.code_of)


def contract_mapper(store: Any) -> Callable[[Any], Contract | None]:
    """`to_contract` with the event store's division lookup (what the relay runs)."""
    return ContractMapper(store)
