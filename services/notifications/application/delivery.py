"""Delivery through the outbox: the dispatcher's channel enqueues one row per notification x preferred channel;
the delivery worker claims due rows with a lease, keeps quiet hours, sends through the provider channel with
retries (exponential backoff with jitter, tenacity), and records each attempt and receipt as a Delivery event."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from services.notifications.adapters.channels import (
    DeliveryRefused,
    OutboundMessage,
    ProviderUnavailable,
    mask_address,
)
from services.notifications.adapters.outbox import OutboxRow
from services.notifications.application.ports import DeliveryChannel, Outbox, Preferences
from services.notifications.domain.delivery import Delivery, QuietHours, delivery_id_for, quiet_until
from services.notifications.domain.preferences import Preference, make_preference
from services.runtime.aggregates import load, save_with_retry
from services.runtime.clock import Clock


@dataclass(frozen=True)
class DeliveryRules:
    """Configuration: default channels for recipients without preferences, quiet hours, urgent kinds, retries."""

    default_channels: tuple[str, ...] = ("sms",)
    quiet_hours: QuietHours | None = None
    county_quiet_hours: dict[str, QuietHours] = field(default_factory=dict)
    urgent_templates: frozenset[str] = frozenset()
    max_attempts: int = 6
    tries_per_claim: int = 2
    backoff_initial_s: float = 30.0
    backoff_max_s: float = 3600.0
    jitter_s: float = 5.0
    lease_s: float = 60.0

    def quiet_for(self, township_code: str, preference: Preference | None) -> QuietHours | None:
        """The recipient's own window, else the county's, else the platform's."""
        if preference is not None and preference.quiet_hours is not None:
            return preference.quiet_hours
        return self.county_quiet_hours.get(township_code[:6], self.quiet_hours)


class OutboxChannel:
    """The dispatcher's channel (``BAOXUE_CHANNEL=outbox``): hands each notification to the outbox once per
    channel the recipient wants; a muted kind of message is not queued at all."""

    name = "outbox"

    def __init__(self, outbox: Outbox, preferences: Preferences, rules: DeliveryRules, now: Callable[[], datetime],
                 logger: Any = None) -> None:
        self.outbox, self.preferences, self.rules, self.now, self.log = outbox, preferences, rules, now, logger

    def send(self, notification_id: str, recipient_id: str, text: str, *, template: str | None = None,
             address: str | None = None, township_code: str | None = None, case_id: str | None = None) -> None:
        template = template or "default"
        preference = self.preferences.get(recipient_id)
        if preference is not None and not preference.wants(template):
            if self.log is not None:
                self.log.info("notification_muted", notification_id=notification_id, recipient_id=recipient_id,
                              template=template)
            return
        channels = preference.channels if preference else {c: None for c in self.rules.default_channels}
        rows = [OutboxRow(str(delivery_id_for(notification_id, ch)), notification_id, ch, recipient_id,
                          own or address, template, text, township_code or "", case_id,
                          template in self.rules.urgent_templates)
                for ch, own in channels.items()]
        self.outbox.enqueue(rows, self.now())


class DeliveryWorker:
    """Claims due deliveries and sends them; safe to run in several processes (leases) and to kill at any point
    (a row sent but not recorded is sent again with the same idempotency key, which the provider drops)."""

    def __init__(self, app: Any, outbox: Outbox, preferences: Preferences, channels: Iterable[DeliveryChannel],
                 rules: DeliveryRules, clock: Clock, owner: str, logger: Any,
                 sleep: Callable[[float], None] | None = None,
                 count: Callable[[str, str], None] | None = None) -> None:
        self.app, self.outbox, self.preferences = app, outbox, preferences
        self.channels = {c.name: c for c in channels}
        self.rules, self.clock, self.owner = rules, clock, owner
        self.log = logger.bind(component="delivery")
        self.sleep = sleep or time.sleep
        self.count = count or (lambda channel, outcome: None)
        self.backoff = wait_exponential_jitter(initial=rules.backoff_initial_s, max=rules.backoff_max_s,
                                               jitter=rules.jitter_s)

    def run_once(self, limit: int = 50) -> dict[str, int]:
        """One pass over what is due now; returns how many deliveries ended in each state."""
        done: dict[str, int] = {}
        for row in self.outbox.claim(self.clock.now(), self.owner, self.rules.lease_s, limit):
            outcome = self._deliver(row)
            done[outcome] = done.get(outcome, 0) + 1
            self.count(row.channel, outcome)
        return done

    def _delivery(self, row: OutboxRow) -> Delivery:
        found = load(self.app.repository, Delivery, UUID(row.delivery_id))
        return found or Delivery(notification_id=row.notification_id, channel=row.channel,
                                 recipient_id=row.recipient_id, template=row.template,
                                 township_code=row.township_code, case_id=row.case_id, urgent=row.urgent)

    def _deliver(self, row: OutboxRow) -> str:
        d = self._delivery(row)
        now = self.clock.now()
        if d.settled or d.status == "sent":
            self.outbox.settle(row.delivery_id, self.owner, d.status, d.attempts)
            return "already"
        until = quiet_until(now, self.rules.quiet_for(row.township_code, self.preferences.get(row.recipient_id)),
                            row.urgent)
        if until is not None:
            d.defer(until, "quiet_hours")
            self.app.save(d)
            self.outbox.reschedule(row.delivery_id, self.owner, until, row.attempts)
            self.log.info("delivery_deferred", delivery_id=row.delivery_id, channel=row.channel, until=until.isoformat())
            return "deferred"
        channel = self.channels.get(row.channel)
        if channel is None:
            return self._give_up(d, row, row.attempts + 1, "channel_not_configured")
        message = OutboundMessage(row.delivery_id, row.recipient_id, row.address, row.template, row.text or "")
        attempt = row.attempts
        retrying = Retrying(retry=retry_if_exception_type(ProviderUnavailable),
                            stop=stop_after_attempt(self.rules.tries_per_claim),
                            wait=wait_exponential_jitter(initial=0.2, max=2.0, jitter=0.2), reraise=True,
                            sleep=self.sleep)
        try:
            for try_ in retrying:
                with try_:
                    attempt += 1
                    try:
                        provider_id = channel.send(message)
                    except ProviderUnavailable as exc:
                        if attempt >= self.rules.max_attempts:
                            raise DeliveryRefused(f"gave up: {exc}") from None
                        if attempt - row.attempts < self.rules.tries_per_claim:  # retried at once, in this claim
                            d.attempt_failed(attempt, self.clock.now(), str(exc), self.clock.now())
                        raise
        except DeliveryRefused as exc:
            return self._give_up(d, row, attempt, str(exc))
        except ProviderUnavailable as exc:
            retry_at = now + timedelta(seconds=self.backoff(_State(attempt)))
            d.attempt_failed(attempt, self.clock.now(), str(exc), retry_at)
            self.app.save(d)
            self.outbox.reschedule(row.delivery_id, self.owner, retry_at, attempt)
            self.log.warning("delivery_retrying", delivery_id=row.delivery_id, channel=row.channel, attempt=attempt,
                             retry_at=retry_at.isoformat())
            return "retrying"
        d.sent(attempt, self.clock.now(), provider_id)
        self.app.save(d)
        self.outbox.settle(row.delivery_id, self.owner, "sent", attempt, provider_id)
        self.log.info("delivery_sent", delivery_id=row.delivery_id, channel=row.channel, attempt=attempt,
                      recipient_id=row.recipient_id, address=mask_address(row.address))
        return "sent"

    def _give_up(self, d: Delivery, row: OutboxRow, attempt: int, reason: str) -> str:
        d.attempt_failed(attempt, self.clock.now(), reason[:80], None)
        self.app.save(d)
        self.outbox.settle(row.delivery_id, self.owner, "failed", attempt)
        self.log.warning("delivery_failed", delivery_id=row.delivery_id, channel=row.channel, attempt=attempt,
                         reason=reason[:80], address=mask_address(row.address))
        return "failed"


@dataclass
class _State:
    """What tenacity's wait strategies read of a retry: the attempt number."""

    attempt_number: int


class Receipts:
    """Provider status reports (回执) turned into Delivered / Failed events of the delivery they are about."""

    def __init__(self, app: Any, outbox: Outbox, clock: Clock) -> None:
        self.app, self.outbox, self.clock = app, outbox, clock

    def record(self, channel: str, provider_message_id: str, delivered: bool, reason: str) -> bool:
        """True when the receipt changed a delivery; an unknown id or a repeat changes nothing."""
        delivery_id = self.outbox.by_provider_id(channel, provider_message_id)
        if delivery_id is None:
            return False
        changed: list[bool] = []

        def attempt() -> Delivery | None:
            d = load(self.app.repository, Delivery, UUID(delivery_id))
            changed[:] = [d is not None and d.receipt(delivered, self.clock.now(), reason)]
            return d

        save_with_retry(attempt, lambda d: self.app.save(d) if d is not None else None)
        return changed[0]


class PreferenceService:
    """Set and read recipients' preferences (checked by the domain rules first: nothing half-written)."""

    def __init__(self, preferences: Preferences, clock: Clock) -> None:
        self.preferences, self.clock = preferences, clock

    def put(self, user_id: str, jurisdiction_code: str, channels: dict[str, str | None], muted: list[str],
            quiet_hours: str | None) -> Preference:
        p = make_preference(user_id, jurisdiction_code, channels, muted, quiet_hours)
        self.preferences.put(p, self.clock.now())
        return p

    def get(self, user_id: str) -> Preference | None:
        return self.preferences.get(user_id)
