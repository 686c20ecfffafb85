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


class NotificationDeliverySentV1(Contract):
    """One attempt at delivering a notification on one provider channel (sms, wecom, dingtalk, email) was
    accepted by the provider; the delivery id (notification x channel) is the idempotency key providers saw."""

    topic = topics.NOTIFICATIONS
    delivery_id: Id
    notification_id: Id
    case_id: Id | None
    recipient_id: str
    channel: str
    template: str
    township_code: JurisdictionCode
    attempt: int = Field(ge=1)
    sent_at: datetime


class NotificationDeliveredV1(Contract):
    """The provider reported the message delivered to the recipient (a delivery receipt, 回执)."""

    topic = topics.NOTIFICATIONS
    delivery_id: Id
    notification_id: Id
    case_id: Id | None
    recipient_id: str
    channel: str
    township_code: JurisdictionCode
    delivered_at: datetime
    status: str = Field(description="The provider's status code, e.g. DELIVRD")


class NotificationDeliveryFailedV1(Contract):
    """An attempt failed (``final`` false: another follows at ``retry_at``) or the delivery was given up."""

    topic = topics.NOTIFICATIONS
    delivery_id: Id
    notification_id: Id
    case_id: Id | None
    recipient_id: str
    channel: str
    township_code: JurisdictionCode
    attempt: int = Field(ge=0)
    failed_at: datetime
    reason: str = Field(description="Provider or rule code, never message text or an address")
    final: bool
    retry_at: datetime | None
