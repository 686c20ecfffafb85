"""Who teaches a student, what a case looks like to us, who was told what (ids, aggregates). Pure: no I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.notifications.domain.errors import AlreadySent, RecipientUnknown
from services.notifications.domain.templates import CASE_OPENED, UNKNOWN_STUDENT, render

NAMESPACE = uuid.UUID("3f6a2c0e-8d1b-4b7e-9a4f-2c5d7e9b1a03")

HEAD_TEACHER = "head_teacher"
OWNER = "owner"
CASE_OPENED_TEMPLATE = CASE_OPENED
# Every (recipient role, template) a case can trigger: notification ids of a case are computable from it.
CASE_NOTIFICATIONS = ((HEAD_TEACHER, CASE_OPENED_TEMPLATE),)


@lru_cache(maxsize=16_384)  # asked for several times a message (prefetch, policy, create_id): a uuid5 is ~3 µs
def contact_id_for(student_id: str) -> uuid.UUID:
    """One contact card per student: a redelivered enrolment updates the same aggregate."""
    return uuid.uuid5(NAMESPACE, f"contact:{student_id}")


def notification_id_for(case_id: str, recipient_role: str, template: str) -> uuid.UUID:
    """Deterministic id, so the same trigger can never notify the same recipient twice."""
    return uuid.uuid5(NAMESPACE, f"notification:{case_id}:{recipient_role}:{template}")


def trigger_notification_id(trigger_id: str, recipient_key: str, template: str) -> uuid.UUID:
    """Deterministic id from the trigger event, the recipient (or the role slot awaiting one) and the template."""
    return uuid.uuid5(NAMESPACE, f"notification:{trigger_id}:{recipient_key}:{template}")


def role_slot(role: str) -> str:
    """The recipient key of a notification addressed to a directory role nobody holds yet."""
    return f"role:{role}"


def case_file_id_for(case_id: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"case:{case_id}")


class StudentContact(Aggregate):
    """The head teacher (班主任) of a student, and the notifications waiting for one to be known."""

    @event("Started")
    def __init__(self, student_id: str, township_code: str, meta: dict[str, Any]):
        self.student_id = student_id
        self.township_code = township_code
        self.name_masked: str | None = None
        self.head_teacher_id: str | None = None
        self.head_teacher_name: str | None = None
        self.recorded = False
        self.pending: list[str] = []
        self.meta = meta

    @staticmethod
    def create_id(student_id: str, **_: Any) -> uuid.UUID:
        return contact_id_for(student_id)

    @property
    def known(self) -> bool:
        """True when a head teacher can be told."""
        return self.head_teacher_id is not None

    def learn(
        self,
        *,
        township_code: str,
        name_masked: str,
        head_teacher_id: str | None,
        head_teacher_name: str | None,
        meta: dict[str, Any],
    ) -> None:
        """Records the contact from an enrolment; a repeat with the same facts changes nothing."""
        facts = dict(
            township_code=township_code,
            name_masked=name_masked,
            head_teacher_id=head_teacher_id,
            head_teacher_name=head_teacher_name,
        )
        if self.__dict__.get("erased"):
            facts["name_masked"] = None  # an erased student's name is not learnt again (a replayed enrolment)
        if not self.recorded:
            self._recorded(**facts, meta=meta)
        elif facts != dict(
            township_code=self.township_code,
            name_masked=self.name_masked,
            head_teacher_id=self.head_teacher_id,
            head_teacher_name=self.head_teacher_name,
        ):
            self._changed(**facts, meta=meta)

    @event("Recorded")
    def _recorded(
        self, township_code: str, name_masked: str, head_teacher_id: str | None, head_teacher_name: str | None,
        meta: dict[str, Any],
    ) -> None:
        self._apply_facts(township_code, name_masked, head_teacher_id, head_teacher_name, meta)
        self.recorded = True

    @event("Changed")
    def _changed(
        self, township_code: str, name_masked: str, head_teacher_id: str | None, head_teacher_name: str | None,
        meta: dict[str, Any],
    ) -> None:
        self._apply_facts(township_code, name_masked, head_teacher_id, head_teacher_name, meta)

    def _apply_facts(
        self, township_code: str, name_masked: str, head_teacher_id: str | None, head_teacher_name: str | None,
        meta: dict[str, Any],
    ) -> None:
        self.township_code = township_code
        self.name_masked = name_masked
        self.head_teacher_id = head_teacher_id
        self.head_teacher_name = head_teacher_name
        self.meta = meta

    def forget_name(self, meta: dict[str, Any]) -> bool:
        """依法删除 (StudentErased.v1): later messages name the student no more; False when already forgotten."""
        if self.name_masked is None and self.__dict__.get("erased"):
            return False
        self._name_erased(meta=meta)
        return True

    @event("NameErased")
    def _name_erased(self, meta: dict[str, Any]) -> None:
        self.name_masked, self.erased, self.meta = None, True, meta

    def await_recipient(self, notification_id: str, meta: dict[str, Any]) -> None:
        """Keeps a notification until this student's head teacher is known."""
        if notification_id not in self.pending:
            self._awaited(notification_id=notification_id, meta=meta)

    @event("NotificationAwaited")
    def _awaited(self, notification_id: str, meta: dict[str, Any]) -> None:
        self.pending.append(notification_id)
        self.meta = meta

    def release(self, notification_ids: list[str], meta: dict[str, Any]) -> None:
        """Forgets notifications that have now been sent."""
        ids = [n for n in notification_ids if n in self.pending]
        if ids:
            self._released(notification_ids=ids, meta=meta)

    @event("NotificationsReleased")
    def _released(self, notification_ids: list[str], meta: dict[str, Any]) -> None:
        self.pending = [n for n in self.pending if n not in notification_ids]
        self.meta = meta


@dataclass(frozen=True, slots=True)
class Contact:
    """A student's head teacher (班主任) and masked name, and the notifications waiting for a head teacher: the value
    the consumer keeps in its lookup table (``student_contacts``), with the id and time of the event that last
    changed it. ``StudentContact`` is the aggregate that held it before (still read where the table has no row)."""

    student_id: str
    township_code: str
    name_masked: str | None = None
    head_teacher_id: str | None = None
    head_teacher_name: str | None = None
    erased: bool = False
    pending: tuple[str, ...] = ()
    event_id: str | None = None
    event_time: datetime | None = None

    @property
    def known(self) -> bool:
        """True when a head teacher can be told."""
        return self.head_teacher_id is not None

    def learn(self, *, township_code: str, name_masked: str, head_teacher_id: str | None,
              head_teacher_name: str | None, event_id: str, event_time: datetime) -> Contact | None:
        """The contact from an enrolment; None when a repeat with the same facts changes nothing. An erased
        student's name is not learnt again (a replayed enrolment)."""
        name = None if self.erased else name_masked
        if (township_code, name, head_teacher_id, head_teacher_name) == (
                self.township_code, self.name_masked, self.head_teacher_id, self.head_teacher_name):
            return None
        return replace(self, township_code=township_code, name_masked=name, head_teacher_id=head_teacher_id,
                       head_teacher_name=head_teacher_name, event_id=event_id, event_time=event_time)

    def forget_name(self, *, event_id: str, event_time: datetime) -> Contact | None:
        """依法删除 (StudentErased.v1): later messages name the student no more; None when already forgotten."""
        if self.name_masked is None and self.erased:
            return None
        return replace(self, name_masked=None, erased=True, event_id=event_id, event_time=event_time)

    def await_recipient(self, notification_id: str, *, event_id: str, event_time: datetime) -> Contact | None:
        """Keeps a notification until this student's head teacher is known; None when it already waits."""
        if notification_id in self.pending:
            return None
        return replace(self, pending=(*self.pending, notification_id), event_id=event_id, event_time=event_time)

    def release(self, notification_ids: list[str], *, event_id: str, event_time: datetime) -> Contact | None:
        """Forgets notifications that have now been sent; None when none of them waited."""
        if not any(n in self.pending for n in notification_ids):
            return None
        return replace(self, pending=tuple(n for n in self.pending if n not in notification_ids), event_id=event_id,
                       event_time=event_time)

    @classmethod
    def of(cls, legacy: StudentContact) -> Contact:
        """The value a legacy aggregate holds (its own events stay the record of how it got there)."""
        return cls(student_id=legacy.student_id, township_code=legacy.township_code, name_masked=legacy.name_masked,
                   head_teacher_id=legacy.head_teacher_id, head_teacher_name=legacy.head_teacher_name,
                   erased=bool(legacy.__dict__.get("erased")), pending=tuple(legacy.pending))


class Notification(Aggregate):
    """A person told something: requested once, then sent once — or pending until a recipient is known, then
    forwarded to the recipients found (each of whom gets a notification of their own)."""

    @event("Requested")
    def __init__(
        self,
        case_id: str | None,
        student_id: str | None,
        township_code: str,
        recipient_role: str,
        template: str,
        meta: dict[str, Any],
        trigger_id: str | None = None,
        recipient_key: str | None = None,
        facts: dict[str, str] | None = None,
    ):
        self.case_id = case_id
        self.student_id = student_id
        self.township_code = township_code
        self.recipient_role = recipient_role
        self.template = template
        self.trigger_id = trigger_id
        self.recipient_key = recipient_key
        self.facts = dict(facts or {})
        self.status = "requested"
        self.recipient_id: str | None = None
        self.channel: str | None = None
        self.sent_at: datetime | None = None
        self.forwarded_to: list[str] = []
        self.meta = meta

    @staticmethod
    def create_id(
        case_id: str | None, recipient_role: str, template: str, trigger_id: str | None = None,
        recipient_key: str | None = None, **_: Any,
    ) -> uuid.UUID:
        if trigger_id is not None and recipient_key is not None:
            return trigger_notification_id(trigger_id, recipient_key, template)
        assert case_id is not None
        return notification_id_for(case_id, recipient_role, template)

    def text_for(self, contact: Contact | StudentContact) -> str:
        """The message this notification carries to the contact's head teacher."""
        if not contact.known:
            raise RecipientUnknown("该学生的班主任尚未登记", rule="recipient_known")
        return render(
            self.template,
            recipient_name=contact.head_teacher_name or "",
            student_name=contact.name_masked or "*",
        )

    def text(self, recipient: str) -> str:
        """The message for a named recipient, from the facts kept when it was requested."""
        return render(self.template, recipient=recipient, **{"student_name": UNKNOWN_STUDENT, **self.facts})

    def wait_for_recipient(self, meta: dict[str, Any]) -> None:
        """Marks the notification pending: nobody can be told yet."""
        if self.status == "requested":
            self._pending(meta=meta)

    @event("Pending")
    def _pending(self, meta: dict[str, Any]) -> None:
        self.status = "pending"
        self.meta = meta

    def forward(self, recipient_ids: list[str], meta: dict[str, Any]) -> None:
        """A pending role notification reached the recipients the directory now names."""
        if self.status != "pending":
            raise AlreadySent("该通知已不再等待接收人", rule="forward_pending_only")
        self._forwarded(recipient_ids=list(recipient_ids), meta=meta)

    @event("Forwarded")
    def _forwarded(self, recipient_ids: list[str], meta: dict[str, Any]) -> None:
        self.status = "forwarded"
        self.forwarded_to = recipient_ids
        self.meta = meta

    def mark_sent(self, *, recipient_id: str, channel: str, sent_at: datetime, text: str, meta: dict[str, Any]) -> None:
        """Records that a channel accepted the message; a notification is sent at most once."""
        if self.status == "sent":
            raise AlreadySent("该通知已发送", rule="notify_once")
        self._sent(
            case_id=self.case_id,
            township_code=self.township_code,
            recipient_role=self.recipient_role,
            template=self.template,
            recipient_id=recipient_id,
            channel=channel,
            sent_at=sent_at,
            text=text,
            meta=meta,
        )

    @event("Sent")
    def _sent(
        self,
        case_id: str,
        township_code: str,
        recipient_role: str,
        template: str,
        recipient_id: str,
        channel: str,
        sent_at: datetime,
        text: str,
        meta: dict[str, Any],
    ) -> None:
        self.status = "sent"
        self.recipient_id = recipient_id
        self.channel = channel
        self.sent_at = sent_at
        self.meta = meta


class CaseFile(Aggregate):
    """What notifications needs to know of a case: its child and its current owners (劝返责任人)."""

    @event("Started")
    def __init__(self, case_id: str, township_code: str, meta: dict[str, Any]):
        self.case_id = case_id
        self.township_code = township_code
        self.student_id: str | None = None
        self.owners: dict[str, str] = {}
        self.meta = meta

    @staticmethod
    def create_id(case_id: str, **_: Any) -> uuid.UUID:
        return case_file_id_for(case_id)

    def opened(self, student_id: str, township_code: str, meta: dict[str, Any]) -> None:
        """Learns the case's child (from CaseOpened)."""
        if (self.student_id, self.township_code) != (student_id, township_code):
            self._opened(student_id=student_id, township_code=township_code, meta=meta)

    @event("Opened")
    def _opened(self, student_id: str, township_code: str, meta: dict[str, Any]) -> None:
        self.student_id = student_id
        self.township_code = township_code
        self.meta = meta

    def assign(self, owners: dict[str, str], meta: dict[str, Any]) -> None:
        """Keeps who holds each slot now (from CaseOwnersAssigned)."""
        merged = {**self.owners, **owners}
        if merged != self.owners:
            self._assigned(owners=owners, meta=meta)

    @event("OwnersAssigned")
    def _assigned(self, owners: dict[str, str], meta: dict[str, Any]) -> None:
        self.owners = {**self.owners, **owners}
        self.meta = meta

    @property
    def owner_ids(self) -> list[str]:
        """Each owner once, in slot order."""
        return list(dict.fromkeys(self.owners.values()))
