"""The notifications consumer's wiring: which topics it reads and which policy each contract feeds."""

from __future__ import annotations

from contracts import Contract, topics
from contracts.events import CaseOpenedV1, StudentEnrolledV1, SuspectedDropoutDetectedV1
from contracts.events.casework import (
    CaseDeadlineApproachingV1,
    CaseDeadlinePassedV1,
    CaseEscalatedV1,
    CaseOwnersAssignedV1,
    CaseOwnersReassignedV1,
    CorrectionOrderIssuedV1,
    CourtReferralMadeV1,
    LegalDocumentsIssuedV1,
    ReturnNoticeIssuedV1,
)
from contracts.events.inspections import (
    InspectionFindingEscalatedV1,
    InspectionFindingRecordedV1,
    InspectionRectificationDueV1,
    InspectionRectificationOrderedV1,
    InspectionRectificationRejectedV1,
)
from contracts.events.registry import StudentErasedV1
from contracts.events.reporting import MonthlyReportDueV1, MonthlyReportOverdueV1
from services.notifications.application.policies import NotificationPolicies
from services.runtime.consumer import Policy

TOPICS = [topics.REGISTRY, topics.ATTENDANCE, topics.CASEWORK, topics.REPORTING, topics.INSPECTIONS]


def policies(bound: NotificationPolicies) -> dict[type[Contract], Policy]:
    """The consumer's policies, bound to the store, a channel and a clock (EventSink: message -> aggregates)."""
    return {
        StudentEnrolledV1: bound.when_student_enrolled_record_contact,
        StudentErasedV1: bound.when_student_erased_forget_name,
        CaseOpenedV1: bound.when_case_opened_notify_head_teacher,
        SuspectedDropoutDetectedV1: bound.when_suspected_dropout_detected_report_township_and_county,
        CaseOwnersAssignedV1: bound.when_case_owners_assigned_notify_owners,
        CaseDeadlinePassedV1: bound.when_case_deadline_passed_alert_owners_and_county,
        CaseDeadlineApproachingV1: bound.when_case_deadline_approaching_remind_owners,
        CaseEscalatedV1: bound.when_case_escalated_notify_owners_and_officials,
        CaseOwnersReassignedV1: bound.when_case_owners_reassigned_notify_new_owner,
        ReturnNoticeIssuedV1: bound.when_legal_step_issued_notify_owners_county_and_officials,
        CorrectionOrderIssuedV1: bound.when_legal_step_issued_notify_owners_county_and_officials,
        LegalDocumentsIssuedV1: bound.when_legal_step_issued_notify_owners_county_and_officials,
        CourtReferralMadeV1: bound.when_legal_step_issued_notify_owners_county_and_officials,
        MonthlyReportDueV1: bound.when_monthly_report_due_remind_the_unit,
        MonthlyReportOverdueV1: bound.when_monthly_report_overdue_tell_the_level_above,
        InspectionFindingRecordedV1: bound.when_inspection_finding_recorded_tell_the_unit,
        InspectionRectificationOrderedV1: bound.when_rectification_ordered_tell_the_unit,
        InspectionRectificationRejectedV1: bound.when_rectification_rejected_tell_the_unit,
        InspectionRectificationDueV1: bound.when_rectification_due_remind_the_unit,
        InspectionFindingEscalatedV1: bound.when_finding_escalated_tell_the_level_above,
    }
