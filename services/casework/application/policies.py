"""Casework policies: how casework reacts to other services' events (saved with the consumer's position);
``entrypoints/consumers.py`` says which contract feeds which."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any, Callable
from uuid import UUID

from contracts.events import SuspectedDropoutDetectedV1
from contracts.events.attendance import AttendanceResumedV1, SuspectedDropoutRetractedV1
from contracts.events.registry import (
    DisabledChildPlacedV1,
    OutOfSchoolChildIdentifiedV1,
    OutOfSchoolChildRetractedV1,
    StudentAdmittedV1,
    StudentEnrolledV1,
    StudentRegistrationClosedV1,
    StudentTransferredInV1,
    TransferLostRetractedV1,
    TransferLostV1,
    TransitionMissedRetractedV1,
    TransitionMissedV1,
)
from services.casework.adapters.placements import placement_row
from services.casework.application import CaseworkApp, finding_trigger_id
from services.casework.domain import case_id_for, child_cases_id_for
from services.runtime.auth import Actor, system_actor
from services.runtime.consumer import Message
from services.runtime.eventstore import loads

SERVICE = "casework"


@lru_cache(maxsize=4096)
def _system_actor(jurisdiction: str) -> Actor:
    """Casework acting for one jurisdiction (validated once per jurisdiction, not once per message; never changed)."""
    return system_actor(SERVICE, jurisdiction)


def system_meta(message: Message, jurisdiction: str) -> dict[str, Any]:
    """Who acted (casework itself, for the event's jurisdiction), caused by which message, at what business time."""
    return _system_actor(jurisdiction).meta(
        correlation_id=message.envelope.correlationid,
        at=message.envelope.time,
        causation_id=message.envelope.id,
    )


# -- what each policy loads by id (a batch reads them all in one query before its policies run) -------
def child_cases(message: Message) -> list[UUID]:
    """The child's case file (which case is open, which triggers were handled)."""
    return [child_cases_id_for(message.payload.student_id)]  # type: ignore[attr-defined]


def placement(message: Message) -> list[Any]:
    """The student's placement (school, class, head teacher): a row of the lookup table."""
    return [placement_row(message.payload.student_id)]  # type: ignore[attr-defined]


def opening(source: str, trigger_id: Callable[[Message], str]) -> Callable[[Message], list[Any]]:
    """A trigger: the case it would name, the child's case file, and the placement a new case's owners come from."""
    return lambda message: [case_id_for(source, trigger_id(message)), *child_cases(message), *placement(message)]


def detection_trigger(message: Message) -> str:
    return message.payload.detection_id  # type: ignore[attr-defined,no-any-return]


def finding_trigger(message: Message) -> str:
    """A finding's trigger id: its first identification, or a re-identification (``finding_trigger_id``)."""
    return finding_trigger_id(message.payload.finding_id, message.envelope.aggregateversion)  # type: ignore[attr-defined]


# -- attendance -------------------------------------------------------------------------------------
@loads(opening("attendance", detection_trigger))
def when_suspected_dropout_detected_open_case(app: CaseworkApp, message: Message) -> list[Any]:
    """疑似辍学 → one case per child episode; a repeated detection opens nothing new."""
    detected: SuspectedDropoutDetectedV1 = message.payload  # type: ignore[assignment]
    return app.opening.open_from_suspected_dropout(
        detection_id=detected.detection_id,
        student_id=detected.student_id,
        school_id=detected.school_id,
        township_code=detected.township_code,
        absent_days=list(detected.absent_days),
        rule=detected.rule,
        rule_version=detected.rule_version,
        threshold_days=detected.threshold_days,
        meta=system_meta(message, detected.township_code),
    )


@loads(child_cases)
def when_attendance_resumed_record_return(app: CaseworkApp, message: Message) -> list[Any]:
    """到校 again → the open case records the return (复学) and starts its follow-up period."""
    resumed: AttendanceResumedV1 = message.payload  # type: ignore[assignment]
    return app.cases.return_from_attendance(student_id=resumed.student_id, day=resumed.day,
                                      detection_id=resumed.detection_id,
                                      meta=system_meta(message, resumed.township_code))


@loads(child_cases)
def when_suspected_dropout_retracted_withdraw_trigger(app: CaseworkApp, message: Message) -> list[Any]:
    """A corrected absence withdraws its detection: an unverified case it alone supports closes."""
    retracted: SuspectedDropoutRetractedV1 = message.payload  # type: ignore[assignment]
    return app.opening.retract_detection(student_id=retracted.student_id, detection_id=retracted.detection_id,
                                 reason=retracted.reason, meta=system_meta(message, retracted.township_code))


# -- registry: comparisons that find children (四查三比对) --------------------------------------------
def _open_from_finding(app: CaseworkApp, message: Message, source: str, school_id: str | None,
                       evidence: dict[str, Any]) -> list[Any]:
    finding: Any = message.payload
    return app.opening.open_from_finding(
        source=source,
        finding_id=finding_trigger(message),
        student_id=finding.student_id,
        school_id=school_id,
        township_code=finding.township_code,
        evidence={"finding_id": finding.finding_id, "reason_code": finding.reason_code, **evidence},
        meta=system_meta(message, finding.township_code),
    )


@loads(opening("census", finding_trigger))
def when_out_of_school_child_identified_open_case(app: CaseworkApp, message: Message) -> list[Any]:
    """户籍 vs 学籍: a resident child of compulsory age with no registration → a case (source ``census``)."""
    found: OutOfSchoolChildIdentifiedV1 = message.payload  # type: ignore[assignment]
    return _open_from_finding(app, message, "census", None, {  # no masked name or number in the chained case
        "episode": found.episode, "special_groups": list(found.special_groups)})  # events (erasure: nothing to do)


@loads(opening("transfer", finding_trigger))
def when_transfer_lost_open_case(app: CaseworkApp, message: Message) -> list[Any]:
    """转出未转入 in time → a case (source ``transfer``) at the school the child left; joins an open case."""
    lost: TransferLostV1 = message.payload  # type: ignore[assignment]
    return _open_from_finding(app, message, "transfer", lost.school_id, {
        "transferred_out_on": lost.transferred_out_on, "days": lost.days})


@loads(opening("transition", finding_trigger))
def when_transition_missed_open_case(app: CaseworkApp, message: Message) -> list[Any]:
    """小升初 missed → a case (source ``transition``) at the primary school the child graduated from."""
    missed: TransitionMissedV1 = message.payload  # type: ignore[assignment]
    return _open_from_finding(app, message, "transition", missed.school_id, {"graduated_on": missed.graduated_on})


def retraction_evidence(message: Message) -> list[dict[str, Any]]:
    """The retraction itself as evidence: the digest of its payload and where it was published."""
    payload: Any = message.payload
    return [{"kind": "document", "sha256": hashlib.sha256(payload.model_dump_json().encode()).hexdigest(),
             "location": f"{payload.topic}/{message.envelope.type}/{message.envelope.id}",
             "description": f"{type(payload).__name__}: {payload.reason_code}"}]


def _withdraw_finding(app: CaseworkApp, message: Message) -> list[Any]:
    retracted: Any = message.payload
    return app.opening.retract_finding(student_id=retracted.student_id, finding_id=retracted.finding_id,
                               reason_code=retracted.reason_code, evidence=retraction_evidence(message),
                               meta=system_meta(message, retracted.township_code))


@loads(child_cases)
def when_out_of_school_child_retracted_withdraw_trigger(app: CaseworkApp, message: Message) -> list[Any]:
    """The census finding no longer holds (registered, record corrected, moved...): closes or annotates."""
    return _withdraw_finding(app, message)


@loads(child_cases)
def when_transfer_lost_retracted_withdraw_trigger(app: CaseworkApp, message: Message) -> list[Any]:
    """The lost transfer was found (transferred in, placed...): closes or annotates."""
    return _withdraw_finding(app, message)


@loads(child_cases)
def when_transition_missed_retracted_withdraw_trigger(app: CaseworkApp, message: Message) -> list[Any]:
    """The missed 小升初 was resolved (admitted...): closes or annotates."""
    return _withdraw_finding(app, message)


# -- registry: where a student is (school, class, head teacher) ---------------------------------------
@loads(placement)
def when_student_enrolled_record_placement(app: CaseworkApp, message: Message) -> list[Any]:
    """学籍: the class head teacher (班主任) becomes the education line's source where the map is silent."""
    enrolled: StudentEnrolledV1 = message.payload  # type: ignore[assignment]
    return app.owners.place_student(student_id=enrolled.student_id, school_id=enrolled.school_id,
                             township_code=enrolled.township_code, grade=enrolled.grade,
                             class_name=enrolled.class_name, head_teacher_id=enrolled.head_teacher_id,
                             head_teacher_name=enrolled.head_teacher_name,
                             registry_version=message.envelope.aggregateversion,
                             event_id=message.envelope.id, event_time=message.envelope.time)


def _record_move(app: CaseworkApp, message: Message) -> list[Any]:
    moved: StudentTransferredInV1 | StudentAdmittedV1 = message.payload  # type: ignore[assignment]
    return app.owners.place_student(student_id=moved.student_id, school_id=moved.school_id,
                             township_code=moved.township_code, grade=moved.grade, class_name=moved.class_name,
                             head_teacher_id=None, head_teacher_name=None,
                             registry_version=message.envelope.aggregateversion,
                             event_id=message.envelope.id, event_time=message.envelope.time)


@loads(placement)
def when_student_transferred_in_record_placement(app: CaseworkApp, message: Message) -> list[Any]:
    """转入: a new school and class; the contract names no head teacher, so the old one no longer holds."""
    return _record_move(app, message)


@loads(placement)
def when_student_admitted_record_placement(app: CaseworkApp, message: Message) -> list[Any]:
    """升学 (小升初): a junior school and class; the contract names no head teacher, so the old one no longer holds."""
    return _record_move(app, message)


@loads(placement)
def when_disabled_child_placed_record_placement(app: CaseworkApp, message: Message) -> list[Any]:
    """残疾儿童安置: the registration follows the placement's school (class and head teacher only if it is the same)."""
    placed: DisabledChildPlacedV1 = message.payload  # type: ignore[assignment]
    current = app.owners.placement(placed.student_id)
    same = current is not None and current.active and current.school_id == placed.school_id
    return app.owners.place_student(student_id=placed.student_id, school_id=placed.school_id,
                             township_code=placed.township_code, grade=current.grade if current else None,
                             class_name=current.class_name if same else None,
                             head_teacher_id=current.head_teacher_id if same else None,
                             head_teacher_name=current.head_teacher_name if same else None,
                             registry_version=message.envelope.aggregateversion,
                             event_id=message.envelope.id, event_time=message.envelope.time)


@loads(placement)
def when_student_registration_closed_end_placement(app: CaseworkApp, message: Message) -> list[Any]:
    """注销学籍: the placement no longer names a school or head teacher."""
    closed: StudentRegistrationClosedV1 = message.payload  # type: ignore[assignment]
    return app.owners.student_left(student_id=closed.student_id, registry_version=message.envelope.aggregateversion,
                                   event_id=message.envelope.id, event_time=message.envelope.time)
