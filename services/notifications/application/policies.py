"""Notifications policies: react to registry, attendance and casework events (EventSink: return aggregates);
``entrypoints/consumers.py`` says which contract feeds which."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from uuid import UUID

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
from services.notifications.adapters.contacts import contact_row
from services.notifications.application import NotificationsApp
from services.notifications.application.dispatch import Dispatcher, Request
from services.notifications.application.ports import Channel
from services.notifications.domain import (
    CASE_OPENED_TEMPLATE,
    COUNTY_OFFICER,
    HEAD_TEACHER,
    JUSTICE_OFFICER,
    LEVEL_ROLES,
    OWNER,
    PREFECTURE_OFFICER,
    TOWNSHIP_OFFICER,
    CaseFile,
    Contact,
    Notification,
    case_file_id_for,
    notification_id_for,
)
from services.notifications.domain import templates as t
from services.runtime.auth import Actor, system_actor
from services.runtime.clock import Clock
from services.runtime.consumer import Message
from services.runtime.eventstore import loads

SERVICE = "notifications"
# 月报告制度: who is reminded of a unit's report, and who hears when it is late (the level above: a county's report
# goes to its prefecture's officers; a prefecture's own lateness is chased by the province on the reporting pages,
# the directory holds no province officers).
REPORT_DUE_ROLES = {"school": TOWNSHIP_OFFICER, "township": TOWNSHIP_OFFICER, "county": COUNTY_OFFICER,
                    "prefecture": PREFECTURE_OFFICER}
REPORT_OVERDUE_ROLES = {"school": TOWNSHIP_OFFICER, "township": COUNTY_OFFICER, "county": PREFECTURE_OFFICER}
# Who besides the owners hears of each legal step (依法控辍): the township orders, the justice office writes.
LEGAL_STEP_ROLES = {
    "return_notice": (),
    "correction_order": ((TOWNSHIP_OFFICER, t.CASE_ESCALATED_TOWNSHIP),),
    "legal_documents": ((TOWNSHIP_OFFICER, t.CASE_ESCALATED_TOWNSHIP), (JUSTICE_OFFICER, t.CASE_ESCALATED_JUSTICE)),
    "court_referral": ((TOWNSHIP_OFFICER, t.CASE_ESCALATED_TOWNSHIP), (JUSTICE_OFFICER, t.CASE_ESCALATED_JUSTICE)),
}
# The specific legal-step contracts of issue 12 and their step; the county bureau hears of every one of them.
LEGAL_STEP_OF = {ReturnNoticeIssuedV1: "return_notice", CorrectionOrderIssuedV1: "correction_order",
                 LegalDocumentsIssuedV1: "legal_documents", CourtReferralMadeV1: "court_referral"}


@lru_cache(maxsize=4096)
def _system_actor(jurisdiction: str) -> Actor:
    """This service acting for one jurisdiction (validated once per jurisdiction, not once per message; never changed)."""
    return system_actor(SERVICE, jurisdiction)


def contact_card(message: Message) -> list[Any]:
    """The student's contact card (head teacher, notifications waiting for one): a row of the lookup table."""
    return [contact_row(message.payload.student_id)]  # type: ignore[attr-defined]


def case_file(message: Message) -> list[UUID]:
    """The case file (student, owners) of the case the message is about."""
    return [case_file_id_for(message.payload.case_id)]  # type: ignore[attr-defined]


def case_opened(message: Message) -> list[Any]:
    """The case file, the head teacher's notification of the opening, and the student's contact card."""
    case_id = message.payload.case_id  # type: ignore[attr-defined]
    return [*case_file(message), notification_id_for(case_id, HEAD_TEACHER, CASE_OPENED_TEMPLATE), *contact_card(message)]


def case_file_and_contact_card(message: Message) -> list[Any]:
    return [*case_file(message), *contact_card(message)]


class NotificationPolicies:
    """The policies of the ``notifications`` consumer, bound to the store, a channel and a clock."""

    def __init__(self, app: NotificationsApp, channel: Channel, clock: Clock) -> None:
        self.app = app
        self.channel = channel
        self.clock = clock
        self.dispatcher = Dispatcher(app, channel, clock)

    def _meta(self, message: Message) -> dict[str, Any]:
        """Who caused our events: this service, for the source event's jurisdiction and correlation."""
        actor = _system_actor(message.payload.township_code)  # type: ignore[attr-defined]
        return actor.meta(message.envelope.correlationid, self.clock.now(), causation_id=message.envelope.id)

    def _student_name(self, student_id: str | None) -> str:
        contact = self.app.contact(student_id) if student_id else None
        return contact.name_masked if contact is not None and contact.name_masked else t.UNKNOWN_STUDENT

    def _case(self, case_id: str) -> tuple[CaseFile | None, str | None]:
        case = self.app.case_file(case_id)
        return case, case.student_id if case is not None else None

    def _send(self, notification: Notification, contact: Contact, meta: dict[str, Any]) -> None:
        """Delivers through the channel first (idempotent), then records Sent: at-least-once, one event."""
        assert contact.head_teacher_id is not None
        text = notification.text_for(contact)
        # the township and case travel with it: in outbox mode they are the delivery's (and its contracts') facts
        self.channel.send(str(notification.id), contact.head_teacher_id, text, template=notification.template,
                          township_code=notification.township_code, case_id=notification.case_id)
        notification.mark_sent(
            recipient_id=contact.head_teacher_id, channel=self.channel.name, sent_at=self.clock.now(), text=text, meta=meta
        )

    @loads(contact_card)
    def when_student_enrolled_record_contact(self, message: Message) -> list[Any]:
        """Keeps the student's head teacher (a row of the contacts table), and sends what was waiting for one."""
        p: StudentEnrolledV1 = message.payload  # type: ignore[assignment]
        source = {"event_id": message.envelope.id, "event_time": message.envelope.time}
        contact = self.app.contact(p.student_id)
        learnt = (contact or Contact(student_id=p.student_id, township_code=p.township_code)).learn(
            township_code=p.township_code, name_masked=p.name_masked, head_teacher_id=p.head_teacher_id,
            head_teacher_name=p.head_teacher_name, **source)
        if learnt is not None:
            contact = learnt
            self.app.contacts.put(p.student_id, learnt)
        if contact is None or not contact.known or not contact.pending:
            return []
        meta = self._meta(message)
        sent = []
        for notification_id in contact.pending:
            notification = self.app.notification(notification_id)
            if notification is not None and notification.status != "sent":
                self._send(notification, contact, meta)
                sent.append(notification)
        released = contact.release(list(contact.pending), **source)
        if released is not None:
            self.app.contacts.put(p.student_id, released)
        return sent

    @loads(contact_card)
    def when_student_erased_forget_name(self, message: Message) -> list[Any]:
        """依法删除: the contact card drops the student's masked name; later messages say 某学生 instead."""
        p: StudentErasedV1 = message.payload  # type: ignore[assignment]
        contact = self.app.contact(p.student_id)
        forgotten = contact.forget_name(event_id=message.envelope.id, event_time=message.envelope.time) \
            if contact is not None else None
        if forgotten is not None:
            self.app.contacts.put(p.student_id, forgotten)
        return []

    @loads(case_opened)
    def when_case_opened_notify_head_teacher(self, message: Message) -> list[Any]:
        """Tells the head teacher a suspected dropout case is open, or waits until the teacher is known."""
        p: CaseOpenedV1 = message.payload  # type: ignore[assignment]
        meta = self._meta(message)
        case = self.app.case_file(p.case_id) or CaseFile(case_id=p.case_id, township_code=p.township_code, meta=meta)
        case.opened(p.student_id, p.township_code, meta)
        if self.app.notification(notification_id_for(p.case_id, HEAD_TEACHER, CASE_OPENED_TEMPLATE)) is not None:
            return [case]  # the same trigger again: already requested
        notification = Notification(
            case_id=p.case_id,
            student_id=p.student_id,
            township_code=p.township_code,
            recipient_role=HEAD_TEACHER,
            template=CASE_OPENED_TEMPLATE,
            meta=meta,
        )
        contact = self.app.contact(p.student_id)
        if contact is not None and contact.known:
            self._send(notification, contact, meta)
            return [case, notification]
        notification.wait_for_recipient(meta)
        waiting = (contact or Contact(student_id=p.student_id, township_code=p.township_code)).await_recipient(
            str(notification.id), event_id=message.envelope.id, event_time=message.envelope.time)
        if waiting is not None:
            self.app.contacts.put(p.student_id, waiting)
        return [case, notification]

    @loads(contact_card)
    def when_suspected_dropout_detected_report_township_and_county(self, message: Message) -> list[Any]:
        """辍学报告制: the township government and the county bureau hear of a suspected dropout at once."""
        p: SuspectedDropoutDetectedV1 = message.payload  # type: ignore[assignment]
        facts = {
            "student_name": self._student_name(p.student_id), "township_code": p.township_code,
            "first_day": t.local_day(min(p.absent_days)), "days": str(len(p.absent_days)),
            "threshold_days": str(p.threshold_days),
        }
        dispatch = self.dispatcher.begin(self._meta(message))
        for role, template in ((TOWNSHIP_OFFICER, t.SUSPECTED_DROPOUT_TOWNSHIP), (COUNTY_OFFICER, t.SUSPECTED_DROPOUT_COUNTY)):
            request = Request(p.detection_id, template, p.township_code, None, p.student_id, facts)
            dispatch.to_role(request, role, p.township_code)
        return dispatch.aggregates()

    @loads(case_file)
    def when_case_owners_assigned_notify_owners(self, message: Message) -> list[Any]:
        """Each newly named owner (劝返责任人, both lines) learns of the assignment; the case keeps its owners."""
        p: CaseOwnersAssignedV1 = message.payload  # type: ignore[assignment]
        return self._owners_named(message, [(o.slot, o.user_id, o.previous_user_id) for o in p.owners])

    @loads(case_file)
    def when_case_owners_reassigned_notify_new_owner(self, message: Message) -> list[Any]:
        """调整责任人: the case file follows, and the person who takes the slot over is told."""
        p: CaseOwnersReassignedV1 = message.payload  # type: ignore[assignment]
        return self._owners_named(message, [(p.slot, p.user_id, p.previous_user_id)])

    def _owners_named(self, message: Message, owners: list[tuple[str, str, str | None]]) -> list[Any]:
        p = message.payload
        meta = self._meta(message)
        case = self.app.case_file(p.case_id) or CaseFile(case_id=p.case_id, township_code=p.township_code, meta=meta)
        case.assign({slot: user_id for slot, user_id, _ in owners}, meta)
        slots: dict[str, list[str]] = {}
        for slot, user_id, previous_user_id in owners:
            if user_id != previous_user_id:
                slots.setdefault(user_id, []).append(t.SLOT_NAMES[slot])
        dispatch = self.dispatcher.begin(meta)
        name = self._student_name(case.student_id)
        for user_id, names in slots.items():
            facts = {"student_name": name, "slots": "、".join(names)}
            request = Request(message.envelope.id, t.OWNER_ASSIGNED, p.township_code, p.case_id, case.student_id, facts)
            dispatch.to_user(request, OWNER, user_id)
        return [case, *dispatch.aggregates()]

    @loads(case_file)
    def when_case_deadline_passed_alert_owners_and_county(self, message: Message) -> list[Any]:
        """A missed deadline alerts the owners and, one level up, the county bureau."""
        p: CaseDeadlinePassedV1 = message.payload  # type: ignore[assignment]
        case, student_id = self._case(p.case_id)
        facts = {
            "student_name": self._student_name(student_id), "township_code": p.township_code,
            "step_name": t.STEP_NAMES[p.step if p.kind == "ladder" else None], "due_at": t.local_time(p.due_at),
        }
        dispatch = self.dispatcher.begin(self._meta(message))
        for user_id in case.owner_ids if case is not None else []:
            dispatch.to_user(Request(p.timer_id, t.DEADLINE_PASSED_OWNER, p.township_code, p.case_id, student_id, facts),
                             OWNER, user_id)
        request = Request(p.timer_id, t.DEADLINE_PASSED_ESCALATION, p.township_code, p.case_id, student_id, facts)
        dispatch.to_role(request, COUNTY_OFFICER, p.township_code)
        return dispatch.aggregates()

    @loads(case_file)
    def when_case_deadline_approaching_remind_owners(self, message: Message) -> list[Any]:
        """A deadline falls due in a few days: every owner of the case is reminded, once per reminder."""
        p: CaseDeadlineApproachingV1 = message.payload  # type: ignore[assignment]
        case, student_id = self._case(p.case_id)
        facts = {
            "student_name": self._student_name(student_id), "township_code": p.township_code,
            "step_name": t.STEP_NAMES[p.step if p.kind == "ladder" else None], "last_day": t.last_day(p.due_at),
            "days": str(p.days_before),
        }
        dispatch = self.dispatcher.begin(self._meta(message))
        for user_id in case.owner_ids if case is not None else []:
            dispatch.to_user(Request(f"{p.timer_id}:remind:{p.days_before}", t.DEADLINE_APPROACHING_OWNER,
                                     p.township_code, p.case_id, student_id, facts), OWNER, user_id)
        return dispatch.aggregates()

    @loads(case_file_and_contact_card)
    def when_case_escalated_notify_owners_and_officials(self, message: Message) -> list[Any]:
        """A legal step stored before issue 12 (the generic contract): owners, township and justice office."""
        p: CaseEscalatedV1 = message.payload  # type: ignore[assignment]
        return self._legal_step(message, p.step, p.deadline_at, None, county=False)

    @loads(case_file_and_contact_card)
    def when_legal_step_issued_notify_owners_county_and_officials(self, message: Message) -> list[Any]:
        """A legal step (通知书, 责令改正, 司法文书, 法院) tells every owner on both lines, the county bureau, and the
        township government and justice office where the step is theirs."""
        p = message.payload
        step = LEGAL_STEP_OF[type(p)]
        return self._legal_step(message, step, p.deadline_at, p.document_no, county=True)  # type: ignore[attr-defined]

    def _legal_step(self, message: Message, step: str, deadline_at: Any, document_no: str | None,
                    county: bool) -> list[Any]:
        p = message.payload
        case, _ = self._case(p.case_id)  # type: ignore[attr-defined]
        facts = {
            "student_name": self._student_name(p.student_id),  # type: ignore[attr-defined]
            "step_name": t.STEP_NAMES[step], "deadline": t.deadline_clause(deadline_at),
            "township_code": p.township_code,  # type: ignore[attr-defined]
            "document": t.document_clause(document_no),
        }
        dispatch = self.dispatcher.begin(self._meta(message))

        def request(template: str) -> Request:
            return Request(message.envelope.id, template, p.township_code, p.case_id, p.student_id,  # type: ignore[attr-defined]
                           facts)

        for user_id in case.owner_ids if case is not None else []:
            dispatch.to_user(request(t.CASE_ESCALATED_OWNER), OWNER, user_id)
        for role, template in LEGAL_STEP_ROLES[step]:
            dispatch.to_role(request(template), role, p.township_code)  # type: ignore[attr-defined]
        if county:
            dispatch.to_role(request(t.LEGAL_STEP_COUNTY), COUNTY_OFFICER, p.township_code)  # type: ignore[attr-defined]
        return dispatch.aggregates()

    def _report_request(self, message: Message, template: str) -> tuple[Request, dict[str, Any]]:
        p = message.payload  # type: ignore[attr-defined]
        facts = {"unit": t.unit_label(p.level, p.code, p.school_id), "month": t.month_label(p.month),
                 "due_on": t.local_day(p.due_on)}
        actor = system_actor(SERVICE, p.code)
        meta = actor.meta(message.envelope.correlationid, self.clock.now(), causation_id=message.envelope.id)
        return Request(p.report_id, template, p.code, None, None, facts), meta

    @loads(lambda message: [])
    def when_monthly_report_due_remind_the_unit(self, message: Message) -> list[Any]:
        """月报告制度: the unit whose report is still waiting is reminded before the due day."""
        p: MonthlyReportDueV1 = message.payload  # type: ignore[assignment]
        role = REPORT_DUE_ROLES.get(p.level)
        if role is None:
            return []
        request, meta = self._report_request(message, t.MONTHLY_REPORT_DUE)
        dispatch = self.dispatcher.begin(meta)
        dispatch.to_role(request, role, p.code)
        return dispatch.aggregates()

    @loads(lambda message: [])
    def when_monthly_report_overdue_tell_the_level_above(self, message: Message) -> list[Any]:
        """A report not submitted by the due day: the level above hears of it, to chase its unit."""
        p: MonthlyReportOverdueV1 = message.payload  # type: ignore[assignment]
        role = REPORT_OVERDUE_ROLES.get(p.level)
        if role is None:
            return []
        request, meta = self._report_request(message, t.MONTHLY_REPORT_OVERDUE)
        dispatch = self.dispatcher.begin(meta)
        dispatch.to_role(request, role, p.parent_code)
        return dispatch.aggregates()

    # -- 督导检查 (baoxue.inspections.v1) ------------------------------------------------------------
    def _inspection(self, message: Message, template: str, code: str, trigger: str,
                    **extra: str) -> list[Any]:
        """Tells whoever answers for ``code`` (a township's, county's or prefecture's officers; a school's finding
        goes to its township, which answers for the school), once per trigger and template."""
        p = message.payload  # type: ignore[attr-defined]
        role = LEVEL_ROLES.get(len(code))
        if role is None:  # a province's own finding: nobody above it in the directory
            return []
        facts = {"unit": t.unit_of(p.unit_code, p.school_id), "inspection": t.unit_of(p.inspection_code, None),
                 "finding": t.FINDING_NAMES.get(p.description_code, p.description_code), **extra}
        meta = system_actor(SERVICE, code).meta(message.envelope.correlationid, self.clock.now(),
                                                causation_id=message.envelope.id)
        dispatch = self.dispatcher.begin(meta)
        dispatch.to_role(Request(trigger, template, code, None, None, facts), role, code)
        return dispatch.aggregates()

    @loads(lambda message: [])
    def when_inspection_finding_recorded_tell_the_unit(self, message: Message) -> list[Any]:
        """督导检查: the unit found at fault hears of the finding (a school's: its township)."""
        p: InspectionFindingRecordedV1 = message.payload  # type: ignore[assignment]
        return self._inspection(message, t.INSPECTION_FINDING, p.unit_code, p.finding_id,
                                severity=t.SEVERITY_NAMES.get(p.severity, p.severity))

    @loads(lambda message: [])
    def when_rectification_ordered_tell_the_unit(self, message: Message) -> list[Any]:
        """整改通知: the unit hears what to rectify and by when."""
        p: InspectionRectificationOrderedV1 = message.payload  # type: ignore[assignment]
        return self._inspection(message, t.INSPECTION_ORDERED, p.unit_code, f"{p.finding_id}:{p.deadline}",
                                deadline=t.local_day(p.deadline))

    @loads(lambda message: [])
    def when_rectification_rejected_tell_the_unit(self, message: Message) -> list[Any]:
        """整改退回: the unit hears why and its new deadline."""
        p: InspectionRectificationRejectedV1 = message.payload  # type: ignore[assignment]
        return self._inspection(message, t.INSPECTION_REJECTED, p.unit_code, f"{p.finding_id}:{p.deadline}",
                                deadline=t.local_day(p.deadline), reason=t.REJECTION_NAMES.get(p.reason_code, ""))

    @loads(lambda message: [])
    def when_rectification_due_remind_the_unit(self, message: Message) -> list[Any]:
        """A rectification deadline comes near (7, 3, 1 days before by default): the unit is reminded."""
        p: InspectionRectificationDueV1 = message.payload  # type: ignore[assignment]
        return self._inspection(message, t.INSPECTION_DUE, p.unit_code,
                                f"{p.finding_id}:{p.deadline}:{p.days_left}", deadline=t.local_day(p.deadline),
                                days_left=str(p.days_left))

    @loads(lambda message: [])
    def when_finding_escalated_tell_the_level_above(self, message: Message) -> list[Any]:
        """A deadline passed while pending: the level above (上报上级) hears of it, to chase and hold to account."""
        p: InspectionFindingEscalatedV1 = message.payload  # type: ignore[assignment]
        return self._inspection(message, t.INSPECTION_ESCALATED, p.escalated_to, f"{p.finding_id}:{p.deadline}",
                                deadline=t.local_day(p.deadline))
