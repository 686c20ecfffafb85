"""The stored-event -> contract mapping (one home, one name): what the relay publishes of notifications' events."""

from __future__ import annotations

from typing import Any

from contracts import Contract
from contracts.events import (
    NotificationDeliveredV1,
    NotificationDeliveryFailedV1,
    NotificationDeliverySentV1,
    NotificationSentV1,
)
from services.notifications.domain import Notification
from services.notifications.domain.delivery import Delivery


def to_contract(domain_event: Any) -> Contract | None:
    """Maps stored notification events to public contracts: a sent notification, and each delivery receipt."""
    if isinstance(domain_event, Notification.Sent):
        return NotificationSentV1(
            notification_id=str(domain_event.originator_id),
            case_id=domain_event.case_id,
            recipient_id=domain_event.recipient_id,
            recipient_role=domain_event.recipient_role,
            channel=domain_event.channel,
            template=domain_event.template,
            township_code=domain_event.township_code,
            sent_at=domain_event.sent_at,
        )
    return _delivery_contract(domain_event)


def _delivery_contract(e: Any) -> Contract | None:
    if not isinstance(e, (Delivery.Sent, Delivery.Failed, Delivery.Delivered)):
        return None
    ids = e.ids
    common = {"delivery_id": str(e.originator_id), "notification_id": ids["notification_id"],
              "case_id": ids["case_id"], "recipient_id": ids["recipient_id"], "channel": ids["channel"],
              "township_code": ids["township_code"]}
    if isinstance(e, Delivery.Sent):
        return NotificationDeliverySentV1(**common, template=ids["template"], attempt=e.attempt, sent_at=e.at)
    if isinstance(e, Delivery.Delivered):
        return NotificationDeliveredV1(**common, delivered_at=e.at, status=e.reason)
    return NotificationDeliveryFailedV1(**common, attempt=e.attempt, failed_at=e.at, reason=e.reason, final=e.final,
                                        retry_at=e.retry_at)
