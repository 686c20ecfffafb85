"""A consumer's batch on the event store: one unit of work (each policy sees what the earlier ones changed), one
transaction for every event and every partition's position, nothing saved when a policy fails."""

from __future__ import annotations

import uuid

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking

from services.runtime.eventstore import ServiceApplication, build_application
from services.runtime.settings import ServiceSettings

pytestmark = pytest.mark.integration


class Tally(Aggregate):
    @staticmethod
    def create_id(key: str) -> uuid.UUID:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"tally:{key}")

    @event("Started")
    def __init__(self, key: str) -> None:
        self.key = key
        self.count = 0

    @event("Counted")
    def add(self, n: int) -> None:
        self.count += n


class TallyApp(ServiceApplication):
    name = "Tallies"

    def tally(self, tally_id: uuid.UUID) -> Tally | None:
        try:
            return self.repository.get(tally_id)
        except Exception:  # noqa: BLE001 - AggregateNotFound
            return None


def start_or_add(app: TallyApp, key: str, n: int) -> list[Tally]:
    """A policy: loads the tally of a key (or starts it) and adds n."""
    tally = app.tally(Tally.create_id(key)) or Tally(key=key)
    tally.add(n)
    return [tally]


@pytest.fixture
def app(database_url):
    settings = ServiceSettings(database_url=database_url, env="test")
    return build_application(TallyApp, settings, f"batch_{uuid.uuid4().hex[:8]}")


def test_a_batch_sees_its_own_changes_and_saves_events_and_positions_in_one_transaction(app):
    key = uuid.uuid4().hex
    tally_id = Tally.create_id(key)
    with app.batch() as batch:
        batch.add(start_or_add(app, key, 1), Tracking("c:topic:0", 7))
        batch.add(start_or_add(app, key, 2), Tracking("c:topic:1", 3))  # sees the tally the first one started
        batch.add(start_or_add(app, key, 4), Tracking("c:topic:0", 9))
        assert app.tally(tally_id).count == 7
        app.save_batch(batch)
    saved = app.repository.get(tally_id)
    assert (saved.count, saved.version) == (7, 4)  # started, then three additions, in order
    assert app.last_tracked("c:topic:0") == 9 and app.last_tracked("c:topic:1") == 3
    # outside a batch the repository reads the store again
    assert app.tally(tally_id) is not saved


def test_a_batch_that_fails_saves_nothing(app):
    key = uuid.uuid4().hex
    tally_id = Tally.create_id(key)
    with pytest.raises(RuntimeError), app.batch() as batch:
        batch.add(start_or_add(app, key, 1), Tracking("c:topic:0", 1))
        raise RuntimeError("a poison message")
    assert app.tally(tally_id) is None and app.last_tracked("c:topic:0") == 0
    with app.batch() as batch:  # the next batch starts clean
        batch.add(start_or_add(app, key, 5), Tracking("c:topic:0", 1))
        app.save_batch(batch)
    assert app.tally(tally_id).count == 5


def test_positions_alone_are_saved_when_no_policy_changed_anything(app):
    with app.batch() as batch:
        batch.add([], Tracking("c:topic:2", 11))
        app.save_batch(batch)
    assert app.last_tracked("c:topic:2") == 11
