"""A consumer's batch has the effects of applying its messages one at a time (same events, same positions), for
the event store (EventSink) and for read models (ProjectionSink); and an effect transaction of a member that lost
a partition's lease commits nothing."""

from __future__ import annotations

import random
import time
import uuid
from types import SimpleNamespace

import pytest

from services.runtime.consumer import LeaseLost, Leases, ProjectionSink
from services.runtime.consumer_sinks import EventSink
from services.runtime.db import Database
from services.runtime.eventstore import build_application
from services.runtime.logging import configure_logging
from services.runtime.settings import ServiceSettings
from services.runtime.tests.test_batch import Tally, TallyApp, tally_message, tally_policy

pytestmark = pytest.mark.integration


def stream(n: int = 120, keys: int = 9, partitions: int = 3) -> list[tuple[str, int, SimpleNamespace]]:
    """(track, sequence, message): a few keys hit again and again, sequences rising per partition."""
    rng = random.Random(7)
    names = [uuid.uuid4().hex for _ in range(keys)]
    return [(f"c:t:{rng.randrange(partitions)}", i + 1, tally_message(rng.choice(names), rng.randrange(1, 9)))
            for i in range(n)]


def new_app(database_url: str) -> TallyApp:
    return build_application(TallyApp, ServiceSettings(database_url=database_url, env="test"),
                             f"uow_{uuid.uuid4().hex[:8]}")


def event_store_effects(app: TallyApp, messages) -> tuple[dict, dict]:
    keys = {m.key for _t, _s, m in messages}
    tallies = {k: (t.count, t.version) for k in keys if (t := app.tally(Tally.create_id(k))) is not None}
    return tallies, {track: app.last_tracked(track) for track in {t for t, _s, _m in messages}}


def test_a_batched_event_store_consumer_has_the_effects_of_one_message_at_a_time(database_url):
    messages = stream()
    batched, single = new_app(database_url), new_app(database_url)
    sink, policy = EventSink(batched), tally_policy(batched)
    for start in range(0, len(messages), 25):  # as a poll hands them over
        sink.apply_batch([(track, seq, policy, m) for track, seq, m in messages[start:start + 25]])
    one, one_policy = EventSink(single), tally_policy(single)
    for track, seq, m in messages:
        assert one.apply(track, seq, one_policy, m) is True
    assert event_store_effects(batched, messages) == event_store_effects(single, messages)
    # the same events, in the same order per aggregate
    for key in {m.key for _t, _s, m in messages}:
        got = [type(e).__name__ for e in batched.events.get(Tally.create_id(key))]
        assert got == [type(e).__name__ for e in single.events.get(Tally.create_id(key))]


def test_a_batched_projection_consumer_has_the_effects_of_one_message_at_a_time(database_url):
    messages = stream()

    def sink_and_table() -> tuple[ProjectionSink, Database]:
        db = Database(database_url, f"uowp_{uuid.uuid4().hex[:8]}")
        db.execute_script("CREATE TABLE tallies (key text PRIMARY KEY, count int NOT NULL, changes int NOT NULL)")
        return ProjectionSink(db, "c"), db

    def add(message, conn) -> None:
        conn.execute("INSERT INTO tallies VALUES (%s, %s, 1) ON CONFLICT (key) DO UPDATE SET "
                     "count = tallies.count + EXCLUDED.count, changes = tallies.changes + 1", (message.key, message.n))

    def effects(db: Database) -> tuple[list, list]:
        with db.transaction() as conn:
            return (conn.execute("SELECT * FROM tallies ORDER BY key").fetchall(),
                    conn.execute("SELECT topic, partition, sequence FROM consumer_positions ORDER BY 1, 2").fetchall())

    (batched, bdb), (single, sdb) = sink_and_table(), sink_and_table()
    for start in range(0, len(messages), 25):
        batched.apply_batch([(track, seq, add, m) for track, seq, m in messages[start:start + 25]])
    batched.apply_batch([(track, seq, add, m) for track, seq, m in messages[:30]])  # a re-read: passed over
    for track, seq, m in messages:
        single.apply(track, seq, add, m)
    assert effects(bdb) == effects(sdb)


def leases(db: Database, member: str, lease_s: float = 0.5) -> Leases:
    return Leases(db, "c", lease_s, configure_logging("test", "test"), member=member)


def test_a_member_whose_lease_was_taken_over_commits_nothing(database_url):
    app = new_app(database_url)
    db = Database(database_url, app.recorder.datastore.schema)
    first, second = leases(db, "first"), leases(db, "second")
    keys = {("t", p) for p in range(2)}
    first.ensure(keys)
    assert set(first.tick(keys)) == keys
    sink, policy = EventSink(app), tally_policy(app)
    sink.fence = first.fence
    message = tally_message(uuid.uuid4().hex, 3)
    sink.apply_batch([("c:t:0", 1, policy, message)])  # held: committed
    time.sleep(0.6)  # first misses its heartbeats: its leases expire and second takes them
    assert set(second.tick(keys)) == keys
    with pytest.raises(LeaseLost):
        sink.apply_batch([("c:t:0", 2, policy, message), ("c:t:1", 1, policy, message)])
    with pytest.raises(LeaseLost):
        sink.skip_many([("c:t:1", 5)])
    assert app.tally(Tally.create_id(message.key)).count == 3
    assert app.last_tracked("c:t:0") == 1 and app.last_tracked("c:t:1") == 0
    assert first.tick(keys) == {}  # and learns it holds nothing now (two live members: the second keeps both)
    projection = ProjectionSink(db, "c")
    projection.fence = first.fence
    with pytest.raises(LeaseLost):
        projection.apply_batch([("c:t:0", 9, lambda m, conn: None, message)])
    assert projection.last_applied("c:t:0") == 0


def test_members_take_their_fair_share_and_release_the_surplus(database_url):
    db = Database(database_url, f"fair_{uuid.uuid4().hex[:8]}")
    keys = {("t", p) for p in range(24)}
    members = [leases(db, f"m{i}", lease_s=30) for i in range(3)]
    members[0].ensure(keys)
    assert len(members[0].tick(keys)) == 24
    assert len(members[1].tick(keys)) == 0  # nothing free yet: the first releases its surplus on its heartbeat
    assert len(members[0].tick(keys)) == 12 and len(members[1].tick(keys)) == 12
    members[2].tick(keys)
    for m in members[:2]:
        m.tick(keys)
    assert sorted(len(m.tick(keys)) for m in members) == [8, 8, 8]
    members[2].release_all()
    assert sorted(len(m.tick(keys)) for m in members[:2]) == [12, 12]


def test_a_member_busy_with_a_long_batch_keeps_its_leases_while_its_renewal_runs(database_url):
    db = Database(database_url, f"renew_{uuid.uuid4().hex[:8]}")
    keys = {("t", p) for p in range(4)}
    busy, other = leases(db, "busy", lease_s=0.6), leases(db, "other", lease_s=0.6)
    busy.ensure(keys)
    assert len(busy.tick(keys)) == 4
    busy.start_renewing()
    try:
        time.sleep(1.5)  # two and a half leases without a tick of the loop
        assert other.tick(keys) == {}  # fair share 2, but nothing expired: nothing to take yet
        assert len(busy.tick(keys)) == 2  # and gives the newcomer its share
    finally:
        busy.stop_renewing()
