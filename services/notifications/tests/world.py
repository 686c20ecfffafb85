"""The notifications consumer and directory as the loop and the API drive them, on in-memory persistence."""

from __future__ import annotations

from contracts.events import NotificationSentV1
from services.notifications.adapters.channels import FileChannel
from services.notifications.adapters.publishing import to_contract
from services.notifications.application import NotificationsApp
from services.notifications.application.policies import NotificationPolicies
from services.notifications.application.recipients import DirectoryChange, DirectoryService
from services.notifications.domain.directory import Recipient
from services.notifications.entrypoints.consumers import policies as consumer_policies
from services.notifications.tests.builders import NOW
from services.runtime.clock import FixedClock
from services.runtime.consumer import EventSink
from services.runtime.testing import in_memory, message

META = {"actor_id": "cty-admin", "actor_role": "county_officer", "jurisdiction": "520102", "correlation_id": "c-1",
        "causation_id": None, "at": NOW.isoformat()}


class World:
    """Policies applied through an EventSink, the directory changed as the API changes it, one file outbox."""

    def __init__(self, tmp_path) -> None:
        self.app = in_memory(NotificationsApp)
        self.clock = FixedClock(NOW)
        self.channel = FileChannel(tmp_path, self.clock.now)
        self.policies = NotificationPolicies(self.app, self.channel, self.clock)
        self.directory = DirectoryService(self.policies.dispatcher)
        self.sink = EventSink(self.app)
        self._sequence: dict[str, int] = {}

    def deliver(self, payload, sequence: int | None = None, **envelope) -> bool:
        """One message on the payload's topic (next sequence unless given); envelope fields override."""
        topic = payload.topic
        if sequence is None:
            sequence = self._sequence.get(topic, 0) + 1
        self._sequence[topic] = max(sequence, self._sequence.get(topic, 0))
        policy = consumer_policies(self.policies)[type(payload)]
        return self.sink.apply(f"notifications:{topic}:0", sequence, policy, message(payload, sequence=sequence, **envelope))

    def name(self, *recipients: Recipient) -> DirectoryChange:
        return self.directory.import_recipients(list(recipients), META)

    def lines(self, template: str | None = None) -> list[dict]:
        return [x for x in self.channel.lines() if template is None or x["template"] == template]

    def published(self) -> list[NotificationSentV1]:
        events = self.app.recorder.select_notifications(start=1, limit=1000)
        mapped = [to_contract(self.app.mapper.to_domain_event(e)) for e in events]
        return [c for c in mapped if isinstance(c, NotificationSentV1)]
