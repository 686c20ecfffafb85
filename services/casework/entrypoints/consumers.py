"""The casework consumer's wiring: which topics it reads and which policy each contract feeds."""

from __future__ import annotations

from functools import partial

from contracts import Contract, topics
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
from services.casework.application import CaseworkApp
from services.casework.application.policies import (
    when_attendance_resumed_record_return,
    when_disabled_child_placed_record_placement,
    when_out_of_school_child_identified_open_case,
    when_out_of_school_child_retracted_withdraw_trigger,
    when_student_admitted_record_placement,
    when_student_enrolled_record_placement,
    when_student_registration_closed_end_placement,
    when_student_transferred_in_record_placement,
    when_suspected_dropout_detected_open_case,
    when_suspected_dropout_retracted_withdraw_trigger,
    when_transfer_lost_open_case,
    when_transfer_lost_retracted_withdraw_trigger,
    when_transition_missed_open_case,
    when_transition_missed_retracted_withdraw_trigger,
)
from services.runtime.consumer import Policy

TOPICS = [topics.ATTENDANCE, topics.REGISTRY]


def policies(app: CaseworkApp) -> dict[type[Contract], Policy]:
    """The consumer's policies bound to the application (EventSink: message -> aggregates)."""
    return {
        SuspectedDropoutDetectedV1: partial(when_suspected_dropout_detected_open_case, app),
        AttendanceResumedV1: partial(when_attendance_resumed_record_return, app),
        SuspectedDropoutRetractedV1: partial(when_suspected_dropout_retracted_withdraw_trigger, app),
        OutOfSchoolChildIdentifiedV1: partial(when_out_of_school_child_identified_open_case, app),
        TransferLostV1: partial(when_transfer_lost_open_case, app),
        TransitionMissedV1: partial(when_transition_missed_open_case, app),
        OutOfSchoolChildRetractedV1: partial(when_out_of_school_child_retracted_withdraw_trigger, app),
        TransferLostRetractedV1: partial(when_transfer_lost_retracted_withdraw_trigger, app),
        TransitionMissedRetractedV1: partial(when_transition_missed_retracted_withdraw_trigger, app),
        StudentEnrolledV1: partial(when_student_enrolled_record_placement, app),
        StudentTransferredInV1: partial(when_student_transferred_in_record_placement, app),
        StudentAdmittedV1: partial(when_student_admitted_record_placement, app),
        StudentRegistrationClosedV1: partial(when_student_registration_closed_end_placement, app),
        DisabledChildPlacedV1: partial(when_disabled_child_placed_record_placement, app),
    }
