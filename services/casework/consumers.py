"""Casework policies: how casework reacts to other services' events (saved with the consumer's position)."""

from __future__ import annotations

from functools import partial
from typing import Any

from contracts import Contract
from contracts.events import SuspectedDropoutDetectedV1
from contracts.events.attendance import AttendanceResumedV1, SuspectedDropoutRetractedV1
from services.casework.application import CaseworkApp
from services.runtime.auth import system_actor
from services.runtime.consumer import Message, Policy

SERVICE = "casework"


def system_meta(message: Message, jurisdiction: str) -> dict[str, Any]:
    """Who acted (casework itself, for the event's jurisdiction), caused by which message, at what business time."""
    return system_actor(SERVICE, jurisdiction).meta(
        correlation_id=message.envelope.correlationid,
        at=message.envelope.time,
        causation_id=message.envelope.id,
    )


def when_suspected_dropout_detected_open_case(app: CaseworkApp, message: Message) -> list[Any]:
    """疑似辍学 → one case per child episode; a repeated detection opens nothing new."""
    detected: SuspectedDropoutDetectedV1 = message.payload  # type: ignore[assignment]
    return app.open_from_suspected_dropout(
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


def when_attendance_resumed_record_return(app: CaseworkApp, message: Message) -> list[Any]:
    """到校 again → the open case records the return (复学) and starts its follow-up period."""
    resumed: AttendanceResumedV1 = message.payload  # type: ignore[assignment]
    return app.return_from_attendance(student_id=resumed.student_id, day=resumed.day,
                                      detection_id=resumed.detection_id,
                                      meta=system_meta(message, resumed.township_code))


def when_suspected_dropout_retracted_withdraw_trigger(app: CaseworkApp, message: Message) -> list[Any]:
    """A corrected absence withdraws its detection: an unverified case it alone supports closes."""
    retracted: SuspectedDropoutRetractedV1 = message.payload  # type: ignore[assignment]
    return app.retract_detection(student_id=retracted.student_id, detection_id=retracted.detection_id,
                                 reason=retracted.reason, meta=system_meta(message, retracted.township_code))


def policies(app: CaseworkApp) -> dict[type[Contract], Policy]:
    """The consumer's policies bound to the application (EventSink: message -> aggregates)."""
    return {
        SuspectedDropoutDetectedV1: partial(when_suspected_dropout_detected_open_case, app),
        AttendanceResumedV1: partial(when_attendance_resumed_record_return, app),
        SuspectedDropoutRetractedV1: partial(when_suspected_dropout_retracted_withdraw_trigger, app),
    }
