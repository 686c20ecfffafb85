"""Notifications policies: react to registry and casework events (EventSink: return aggregates to save)."""

from __future__ import annotations

from typing import Any

from contracts.events import CaseOpenedV1, StudentEnrolledV1
from services.notifications.application import NotificationsApp
from services.notifications.channels import Channel
from services.notifications.domain import (
    CASE_OPENED_TEMPLATE,
    HEAD_TEACHER,
    Notification,
    StudentContact,
    notification_id_for,
)
from services.runtime.auth import system_actor
from services.runtime.clock import Clock
from services.runtime.consumer import Message

SERVICE = "notifications"


class NotificationPolicies:
    """The policies of the ``notifications`` consumer, bound to the store, a channel and a clock."""

    def __init__(self, app: NotificationsApp, channel: Channel, clock: Clock) -> None:
        self.app = app
        self.channel = channel
        self.clock = clock

    def policies(self) -> dict[type, Any]:
        return {
            StudentEnrolledV1: self.when_student_enrolled_record_contact,
            CaseOpenedV1: self.when_case_opened_notify_head_teacher,
        }

    def _meta(self, message: Message) -> dict[str, Any]:
        """Who caused our events: this service, for the source event's jurisdiction and correlation."""
        actor = system_actor(SERVICE, message.payload.township_code)  # type: ignore[attr-defined]
        return actor.meta(message.envelope.correlationid, self.clock.now(), causation_id=message.envelope.id)

    def _send(self, notification: Notification, contact: StudentContact, meta: dict[str, Any]) -> None:
        """Delivers through the channel first (idempotent), then records Sent: at-least-once, one event."""
        assert contact.head_teacher_id is not None
        text = notification.text_for(contact)
        self.channel.send(str(notification.id), contact.head_teacher_id, text)
        notification.mark_sent(
            recipient_id=contact.head_teacher_id, channel=self.channel.name, sent_at=self.clock.now(), text=text, meta=meta
        )

    def when_student_enrolled_record_contact(self, message: Message) -> list[Any]:
        """Keeps the student's head teacher, and sends what was waiting for one."""
        p: StudentEnrolledV1 = message.payload  # type: ignore[assignment]
        meta = self._meta(message)
        contact = self.app.contact(p.student_id) or StudentContact(
            student_id=p.student_id, township_code=p.township_code, meta=meta
        )
        contact.learn(
            township_code=p.township_code,
            name_masked=p.name_masked,
            head_teacher_id=p.head_teacher_id,
            head_teacher_name=p.head_teacher_name,
            meta=meta,
        )
        if not contact.known or not contact.pending:
            return [contact]
        sent = []
        for notification_id in list(contact.pending):
            notification = self.app.notification(notification_id)
            if notification is not None and notification.status != "sent":
                self._send(notification, contact, meta)
                sent.append(notification)
        contact.release(list(contact.pending), meta)
        return [contact, *sent]

    def when_case_opened_notify_head_teacher(self, message: Message) -> list[Any]:
        """Tells the head teacher a suspected dropout case is open, or waits until the teacher is known."""
        p: CaseOpenedV1 = message.payload  # type: ignore[assignment]
        if self.app.notification(notification_id_for(p.case_id, HEAD_TEACHER, CASE_OPENED_TEMPLATE)) is not None:
            return []  # the same trigger again: already requested
        meta = self._meta(message)
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
            return [notification]
        notification.wait_for_recipient(meta)
        contact = contact or StudentContact(student_id=p.student_id, township_code=p.township_code, meta=meta)
        contact.await_recipient(str(notification.id), meta)
        return [notification, contact]
