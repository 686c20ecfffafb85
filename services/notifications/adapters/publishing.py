"""The stored-event -> contract mapping (one home, one name): what the relay publishes of notifications' events."""

from __future__ import annotations

from typing import Any

from contracts import Contract
from contracts.events import NotificationSentV1
from services.notifications.domain import Notification


def to_contract(domain_event: Any) -> Contract | None:
    """Maps stored notification events to public contracts: only a sent notification is news."""
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
    return None
