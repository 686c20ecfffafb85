"""Registry events into schools, students (学籍 and residency) and findings (失学, lost transfers, missed 小升初)."""

from __future__ import annotations

import json

from contracts.events import registry as r
from services.reporting.adapters import guarded
from services.reporting.adapters.inbox import Event
from services.reporting.adapters.projections import SCHOOLS, STUDENTS
from services.reporting.adapters.stores import Row, Store, complete


def _school(store: Store, e: Event, **fields: object) -> None:
    row = store.get("schools", (fields["school_id"],)) or complete(SCHOOLS, {"status": "open", "last_sequence": 0})
    if row["last_sequence"] >= e.sequence:
        return
    store.put("schools", {**row, **fields, "last_sequence": e.sequence})


def school_registered(store: Store, e: Event) -> None:
    p: r.SchoolRegisteredV1 = e.payload  # type: ignore[assignment]
    _school(store, e, school_id=p.school_id, code=p.code, name=p.name, level=p.level, county_code=p.county_code,
            township_code=p.township_code, status="open")


def school_closed(store: Store, e: Event) -> None:
    p: r.SchoolClosedV1 = e.payload  # type: ignore[assignment]
    _school(store, e, school_id=p.school_id, township_code=p.township_code, status="closed", closed_on=p.on,
            merged_into=p.merged_into)


def school_township_changed(store: Store, e: Event) -> None:
    """乡镇撤并: the school belongs to another township from a date; dashboards follow it by the view's day."""
    p: r.SchoolTownshipChangedV1 = e.payload  # type: ignore[assignment]
    guarded.write(store, "school_moves", {"school_id": p.school_id, "effective": p.effective}, e, {}, dict(
        from_township_code=p.from_township_code, township_code=p.township_code, county_code=p.county_code), {})
    _school(store, e, school_id=p.school_id, township_code=p.township_code, county_code=p.county_code)


def _new_student(student_id: str, township_code: str) -> Row:
    """The row of a child the read models have no row of yet."""
    return complete(STUDENTS, {
        "student_id": student_id, "township_code": township_code, "enrolment": "unregistered",
        "residency": "resident", "reg_sequence": 0, "life_sequence": 0,
    })


def _student(store: Store, student_id: str, township_code: str) -> Row:
    return store.get("students", (student_id,)) or _new_student(student_id, township_code)


def _registration(store: Store, e: Event, student_id: str, township_code: str, **fields: object) -> None:
    """Registration fields move with the student's own events (ordered); a replayed older one changes nothing."""
    row = _student(store, student_id, township_code)
    if row["reg_sequence"] >= e.sequence:
        return
    store.put("students", {**row, "township_code": township_code, **fields, "reg_sequence": e.sequence})


def _residency(store: Store, e: Event, student_id: str, township_code: str, **fields: object) -> None:
    row = _student(store, student_id, township_code)
    if row["life_sequence"] >= e.sequence:
        return
    store.put("students", {**row, **fields, "life_sequence": e.sequence})


def _enrolled(p: r.StudentEnrolledV1, e: Event) -> dict[str, object]:
    return dict(school_id=p.school_id, county_code=p.county_code, grade=p.grade, class_name=p.class_name,
                name_masked=p.name_masked, id_number_masked=p.id_number_masked, head_teacher_id=p.head_teacher_id,
                enrolment="enrolled", enrolment_since=e.time.date())


def student_enrolled(store: Store, e: Event) -> None:
    p: r.StudentEnrolledV1 = e.payload  # type: ignore[assignment]
    _registration(store, e, p.student_id, p.township_code, **_enrolled(p, e))


def first_enrolment_row(e: Event) -> Row:
    """The students row ``student_enrolled`` writes for a child the read models have no row of (the new row's
    registration fields; a first sequence is past the new row's 0): the live consumer's batch path for first
    enrolments, the bulk of an onboarding, writes it without the reducer's reads."""
    p: r.StudentEnrolledV1 = e.payload  # type: ignore[assignment]
    return {**_new_student(p.student_id, p.township_code), "township_code": p.township_code, **_enrolled(p, e),
            "reg_sequence": e.sequence}


def transferred_out(store: Store, e: Event) -> None:
    p: r.StudentTransferredOutV1 = e.payload  # type: ignore[assignment]
    _registration(store, e, p.student_id, p.township_code, enrolment="transferred_out", enrolment_since=p.on)


def transferred_in(store: Store, e: Event) -> None:
    p: r.StudentTransferredInV1 = e.payload  # type: ignore[assignment]
    _registration(store, e, p.student_id, p.township_code, school_id=p.school_id, county_code=p.county_code,
                  grade=p.grade, class_name=p.class_name, enrolment="enrolled", enrolment_since=p.on)


def admitted(store: Store, e: Event) -> None:
    p: r.StudentAdmittedV1 = e.payload  # type: ignore[assignment]
    _registration(store, e, p.student_id, p.township_code, school_id=p.school_id, county_code=p.county_code,
                  grade=p.grade, class_name=p.class_name, enrolment="enrolled", enrolment_since=p.on)


def suspended(store: Store, e: Event) -> None:
    p: r.StudentSuspendedV1 = e.payload  # type: ignore[assignment]
    _registration(store, e, p.student_id, p.township_code, enrolment="suspended", enrolment_since=p.on)


def resumed(store: Store, e: Event) -> None:
    p: r.StudentResumedV1 = e.payload  # type: ignore[assignment]
    _registration(store, e, p.student_id, p.township_code, enrolment="enrolled", grade=p.grade,
                  enrolment_since=p.on)


def graduated(store: Store, e: Event) -> None:
    p: r.StudentGraduatedV1 = e.payload  # type: ignore[assignment]
    _registration(store, e, p.student_id, p.township_code, enrolment=f"graduated_{p.level}", enrolment_since=p.on)


def placed(store: Store, e: Event) -> None:
    p: r.DisabledChildPlacedV1 = e.payload  # type: ignore[assignment]
    _registration(store, e, p.student_id, p.township_code, school_id=p.school_id, placement=p.placement,
                  disability_degree=p.disability_degree, enrolment="enrolled", enrolment_since=p.on)


def registration_closed(store: Store, e: Event) -> None:
    p: r.StudentRegistrationClosedV1 = e.payload  # type: ignore[assignment]
    _registration(store, e, p.student_id, p.township_code, enrolment="closed", enrolment_since=p.on)


def life_event(store: Store, e: Event) -> None:
    p: r.ChildLifeEventReportedV1 = e.payload  # type: ignore[assignment]
    _residency(store, e, p.student_id, p.township_code, residency=p.status, residency_since=p.on)


def life_event_corrected(store: Store, e: Event) -> None:
    p: r.ChildLifeEventCorrectedV1 = e.payload  # type: ignore[assignment]
    _residency(store, e, p.student_id, p.township_code, residency="resident", residency_since=None)


def deferred(store: Store, e: Event) -> None:
    p: r.ChildEnrolmentDeferredV1 = e.payload  # type: ignore[assignment]
    _residency(store, e, p.student_id, p.township_code, deferred_until=p.until)


def _finding(store: Store, e: Event, finding_id: str, facts: dict, state: dict) -> None:
    guarded.write(store, "findings", {"finding_id": finding_id}, e, facts, state, {"status": "open"})


def out_of_school(store: Store, e: Event) -> None:
    p: r.OutOfSchoolChildIdentifiedV1 = e.payload  # type: ignore[assignment]
    _finding(store, e, p.finding_id, dict(
        kind="out_of_school", student_id=p.student_id, township_code=p.township_code, reason_code=p.reason_code,
        episode=p.episode, name_masked=p.name_masked, id_number_masked=p.id_number_masked,
        special_groups=",".join(sorted(p.special_groups)) or None, found_on=e.time.date(), found_at=e.time,
    ), {"status": "open"})


def transfer_lost(store: Store, e: Event) -> None:
    p: r.TransferLostV1 = e.payload  # type: ignore[assignment]
    _finding(store, e, p.finding_id, dict(
        kind="transfer_lost", student_id=p.student_id, school_id=p.school_id, township_code=p.township_code,
        reason_code=p.reason_code, found_on=p.transferred_out_on, found_at=e.time,
    ), {"status": "open"})


def transition_missed(store: Store, e: Event) -> None:
    p: r.TransitionMissedV1 = e.payload  # type: ignore[assignment]
    _finding(store, e, p.finding_id, dict(
        kind="transition_missed", student_id=p.student_id, school_id=p.school_id, township_code=p.township_code,
        reason_code=p.reason_code, found_on=p.graduated_on, found_at=e.time,
    ), {"status": "open"})


def finding_retracted(store: Store, e: Event) -> None:
    p = e.payload
    kind = {"OutOfSchoolChildRetracted": "out_of_school", "TransferLostRetracted": "transfer_lost"}.get(
        p.event_name, "transition_missed")
    _finding(store, e, p.finding_id, dict(  # type: ignore[attr-defined]
        kind=kind, student_id=p.student_id, township_code=p.township_code,  # type: ignore[attr-defined]
    ), {"status": "retracted", "resolution": p.reason_code})  # type: ignore[attr-defined]


# -- administrative divisions (行政区划): a dimension with names valid over time -------------------------------
DIGITS = {"province": 2, "prefecture": 4, "county": 6, "township": 9, "village": 12}
PARENT = {"prefecture": "province", "county": "prefecture", "township": "county", "village": "township"}


def prefix_code(code: str, level: str | None) -> str:
    """The code reporting keys a division by: its significant prefix (520000 → 52, 520100 → 5201)."""
    return code[: DIGITS.get(level or "", len(code))] if level else code


def _known_code(store: Store, official: str) -> str:
    """A changed division's reporting code: its level's prefix when registered, else as the change gives it."""
    for level in ("province", "prefecture"):
        short = prefix_code(official, level)
        row = store.get("jurisdictions", (short,))
        if row is not None and row["official_code"] == official:
            return short
    return official


def jurisdiction_registered(store: Store, e: Event) -> None:
    p: r.JurisdictionRegisteredV1 = e.payload  # type: ignore[assignment]
    code = prefix_code(p.code, p.level)
    parent = prefix_code(p.parent_code, PARENT.get(p.level)) if p.parent_code else None
    guarded.write(store, "jurisdictions", {"code": code}, e, dict(
        official_code=p.code, name=p.name, level=p.level, parent_code=parent, established_on=p.effective_from,
    ), {}, {})
    guarded.write(store, "jurisdiction_names", {"code": code, "valid_from": p.effective_from}, e, {},
                  {"name": p.name}, {})


def jurisdiction_changed(store: Store, e: Event) -> None:
    p: r.JurisdictionChangedV1 = e.payload  # type: ignore[assignment]
    code = _known_code(store, p.code)
    if p.kind == "renamed" and p.name:
        guarded.write(store, "jurisdictions", {"code": code}, e, {}, {"name": p.name}, {})
        guarded.write(store, "jurisdiction_names", {"code": code, "valid_from": p.effective}, e, {},
                      {"name": p.name}, {})
    else:
        guarded.write(store, "jurisdictions", {"code": code}, e, {}, dict(
            ended_on=p.effective, end_kind=p.kind, successor_code=p.successor_code), {})


# -- special groups (特殊群体) per child --------------------------------------------------------------------
def special_groups_changed(store: Store, e: Event) -> None:
    """The child's whole list replaces the previous one (the latest event wins); `groups` lists the current codes."""
    p: r.SpecialGroupsChangedV1 = e.payload  # type: ignore[assignment]
    detail = [g.model_dump(mode="json") for g in p.groups]
    current = sorted({g.group for g in p.groups if g.until is None})
    guarded.write(store, "special_groups", {"student_id": p.student_id}, e, {}, dict(
        township_code=p.township_code, groups=",".join(current) or None,
        detail=json.dumps(detail, sort_keys=True, ensure_ascii=False)), {})


def student_erased(store: Store, e: Event) -> None:
    """依法删除: the student keeps its codes and counts, not its masked name or number (the live consumer also
    scrubs its findings and the inbox copies, so a rebuild finds nothing to restore: `erasure.scrub`)."""
    p: r.StudentErasedV1 = e.payload  # type: ignore[assignment]
    row = store.get("students", (p.student_id,))
    if row is not None:
        store.put("students", {**row, "name_masked": "*", "id_number_masked": None})


HANDLERS = {
    r.StudentErasedV1: student_erased,
    r.JurisdictionRegisteredV1: jurisdiction_registered, r.JurisdictionChangedV1: jurisdiction_changed,
    r.SpecialGroupsChangedV1: special_groups_changed,
    r.SchoolRegisteredV1: school_registered, r.SchoolClosedV1: school_closed,
    r.SchoolTownshipChangedV1: school_township_changed,
    r.StudentEnrolledV1: student_enrolled, r.StudentTransferredOutV1: transferred_out,
    r.StudentTransferredInV1: transferred_in, r.StudentAdmittedV1: admitted, r.StudentSuspendedV1: suspended,
    r.StudentResumedV1: resumed, r.StudentGraduatedV1: graduated, r.DisabledChildPlacedV1: placed,
    r.StudentRegistrationClosedV1: registration_closed, r.ChildLifeEventReportedV1: life_event,
    r.ChildLifeEventCorrectedV1: life_event_corrected, r.ChildEnrolmentDeferredV1: deferred,
    r.OutOfSchoolChildIdentifiedV1: out_of_school, r.TransferLostV1: transfer_lost,
    r.TransitionMissedV1: transition_missed, r.OutOfSchoolChildRetractedV1: finding_retracted,
    r.TransferLostRetractedV1: finding_retracted, r.TransitionMissedRetractedV1: finding_retracted,
}
