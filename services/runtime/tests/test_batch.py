"""A consumer's batch on the event store: one unit of work (each policy sees what the earlier ones changed), one
transaction for every event and every partition's position, nothing saved when a policy fails; the aggregates its
policies declare are read in one query before they run."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import psycopg
import pytest
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking
from psycopg import sql

from services.runtime.consumer import BatchConflict, EventSink
from services.runtime.eventstore import ServiceApplication, build_application, loads
from services.runtime.settings import ServiceSettings
from services.runtime.tests.reads import count_reads

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


@pytest.fixture
def reads(app, monkeypatch):
    return count_reads(app, monkeypatch)


def tally_message(key: str, n: int) -> SimpleNamespace:
    return SimpleNamespace(key=key, n=n)


def tally_policy(app: TallyApp):
    """A consumer's policy that declares the aggregate it loads, as casework's and notifications' do."""

    @loads(lambda message: [Tally.create_id(message.key)])
    def policy(message: SimpleNamespace) -> list[Tally]:
        return start_or_add(app, message.key, message.n)

    return policy


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


def saved_tally(app: TallyApp, *additions: int) -> uuid.UUID:
    tally = Tally(key=uuid.uuid4().hex)
    for n in additions:
        tally.add(n)
    app.save(tally)
    return tally.id


def test_prefetched_aggregates_are_what_the_repository_loads_and_missing_ones_are_known_without_a_read(app, reads):
    ids = [saved_tally(app), saved_tally(app, 1, 2), saved_tally(app, 3, 4, 5)]
    missing = Tally.create_id(uuid.uuid4().hex)
    loaded = {tally_id: app.repository.get(tally_id) for tally_id in ids}
    reads["one"] = 0
    with app.batch() as batch:
        batch.prefetch([*ids, missing, ids[0]])
        assert reads == {"one": 0, "many": 1}
        for tally_id in ids:
            assert vars(app.repository.get(tally_id)) == vars(loaded[tally_id])
        with pytest.raises(AggregateNotFoundError):
            app.repository.get(missing)
        assert app.tally(missing) is None  # known missing: asked twice, never read
        assert reads == {"one": 0, "many": 1}
        # each is handed out once (a policy may change it without saving it): asked again, it is read again
        assert vars(app.repository.get(ids[1])) == vars(loaded[ids[1]])
        assert reads["one"] == 1
    assert app.tally(missing) is None and reads["one"] == 2  # outside a batch nothing is prefetched


def test_a_batch_of_declared_policies_reads_its_aggregates_once_and_sees_its_own_changes(app, reads):
    existing = Tally(key=uuid.uuid4().hex)
    existing.add(10)
    app.save(existing)
    fresh = uuid.uuid4().hex
    policy = tally_policy(app)
    reads["one"] = 0
    EventSink(app).apply_batch([
        ("c:t:0", 1, policy, tally_message(existing.key, 1)),
        ("c:t:0", 2, policy, tally_message(fresh, 2)),  # started here
        ("c:t:1", 1, policy, tally_message(fresh, 4)),  # and seen by the next message
        ("c:t:1", 2, policy, tally_message(existing.key, 8)),
    ])
    assert reads == {"one": 0, "many": 1}
    assert app.tally(existing.id).count == 19 and app.tally(Tally.create_id(fresh)).count == 6
    assert app.last_tracked("c:t:0") == 2 and app.last_tracked("c:t:1") == 2


def test_a_change_saved_after_the_prefetch_fails_the_batch_and_one_at_a_time_applies_every_message(app, reads,
                                                                                                    database_url):
    tally = Tally(key=uuid.uuid4().hex)
    app.save(tally)
    other = build_application(TallyApp, ServiceSettings(database_url=database_url, env="test"),
                              app.recorder.datastore.schema)  # another process of the service (an API request)
    declared = tally_policy(app)
    raced = {"done": False}

    @loads(declared.loads)
    def policy(message: SimpleNamespace) -> list[Tally]:
        if not raced["done"]:  # after the batch read the tally, before it saves
            raced["done"] = True
            theirs = other.repository.get(tally.id)
            theirs.add(100)
            other.save(theirs)
        return declared(message)

    sink = EventSink(app)
    items = [("c:r:0", 1, policy, tally_message(tally.key, 1)), ("c:r:0", 2, policy, tally_message(tally.key, 2)),
             ("c:r:1", 5, policy, tally_message(tally.key, 4))]
    with pytest.raises(BatchConflict):
        sink.apply_batch(items)
    assert reads["many"] == 1
    assert app.tally(tally.id).count == 100  # only theirs: nothing of the batch was saved
    assert app.last_tracked("c:r:0") == 0 and app.last_tracked("c:r:1") == 0
    for track, sequence, policy_, message in items:  # what the consumer loop does after a failed batch
        assert sink.apply(track, sequence, policy_, message) is True
    saved = app.tally(tally.id)
    assert (saved.count, saved.version) == (107, 5)
    assert app.last_tracked("c:r:0") == 2 and app.last_tracked("c:r:1") == 5
    other.close()


def test_skip_many_writes_every_position_in_one_transaction(app, database_url):
    positions = [(f"c:skip:{p}", 10 + p) for p in range(5)]
    EventSink(app).skip_many(positions)
    assert [app.last_tracked(track) for track, _ in positions] == [10, 11, 12, 13, 14]
    query = sql.SQL("SELECT DISTINCT xmin::text FROM {}.{} WHERE application_name LIKE 'c:skip:%'").format(
        sql.Identifier(app.recorder.datastore.schema), sql.Identifier(app.recorder.tracking_table_name))
    with psycopg.connect(database_url) as conn:
        assert len(conn.execute(query).fetchall()) == 1  # every row written by the same transaction
    # a position already passed (written elsewhere) is tolerated as ``skip`` tolerates it; the others move on
    EventSink(app).skip_many([("c:skip:0", 10), ("c:skip:9", 3)])
    assert app.last_tracked("c:skip:0") == 10 and app.last_tracked("c:skip:9") == 3
