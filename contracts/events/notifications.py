"""Notifications public events."""

from datetime import datetime

from pydantic import Field

from contracts import topics
from contracts.base import Contract
from contracts.events.common import Id, JurisdictionCode


class NotificationSentV1(Contract):
    """A person was told something through a channel; the channel accepted it."""

    topic = topics.NOTIFICATIONS
    notification_id: Id
    case_id: Id | None
    recipient_id: str
    recipient_role: str
    channel: str = Field(description="Channel adapter name, e.g. file, log, sms")
    template: str
    township_code: JurisdictionCode
    sent_at: datetime
