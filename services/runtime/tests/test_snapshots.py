"""Snapshots are a cache: an aggregate read from its latest snapshot and the events after it is the aggregate its
full history gives, many are read in one query whether snapshotted or not, and a snapshot that cannot be used
(another version of the class wrote it, unreadable, unknown class) is ignored in favour of the events."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import psycopg
import pytest
from eventsourcing.application import AggregateNotFoundError, project_aggregate
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError
from psycopg import sql

from services.runtime import snapshots as snapshot_module
from services.runtime.eventstore import ServiceApplication, build_application
from services.runtime.settings import ServiceSettings
from services.runtime.snapshots import ServiceSnapshot
from services.runtime.tests.reads import count_reads
from services.runtime.testing import in_memory

pytestmark = pytest.mark.integration


class Streak(Aggregate):
    """Grows an event a day, like a child's absence record; keeps a dict keyed by dates (JSON keys are text)."""

    @staticmethod
    def create_id(key: str) -> uuid.UUID:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"streak:{key}")

    @event("Started")
    def __init__(self, key: str) -> None:
        self.key = key
        self.days: list[date] = []
        self.by_month: dict[date, int] = {}

    @event("Missed")
    def miss(self, day: date) -> None:
        self.days = [*self.days, day]
        month = day.replace(day=1)
        self.by_month = {**self.by_month, month: self.by_month.get(month, 0) + 1}


class StreakApp(ServiceApplication):
    name = "Streaks"
    is_snapshotting_enabled = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.snapshot_intervals = {Streak: 4}


@pytest.fixture
def app(database_url):
    settings = ServiceSettings(database_url=database_url, env="test")
    return build_application(StreakApp, settings, f"snap_{uuid.uuid4().hex[:8]}")


def days(n: int, start: int = 0) -> list[date]:
    return [date.fromordinal(date(2025, 9, 1).toordinal() + start + i) for i in range(n)]


def grown(app: StreakApp, key: str, misses: int, per_save: int = 1) -> Streak:
    """A streak saved ``per_save`` events at a time (a save crossing a multiple of the interval takes a snapshot)."""
    streak = Streak(key=key)
    app.save(streak)
    for i in range(0, misses, per_save):
        streak = app.repository.get(streak.id)
        for day in days(min(per_save, misses - i), start=i):
            streak.miss(day)
        app.save(streak)
    return streak


def replayed(app: StreakApp, aggregate_id: uuid.UUID) -> Streak:
    """The aggregate from every one of its events, no snapshot."""
    return project_aggregate(None, app.events.get(aggregate_id))


def state(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def snapshot_versions(app: StreakApp, aggregate_id: uuid.UUID) -> list[int]:
    return [s.originator_version for s in app.snapshots.get(aggregate_id)]


def test_a_snapshot_and_the_events_after_it_give_the_state_a_full_replay_gives(app):
    streak = grown(app, "ann", misses=10)  # versions 1..11: snapshots at 4 and 8, only the latest kept
    assert snapshot_versions(app, streak.id) == [8]
    full = replayed(app, streak.id)
    assert state(app.repository.get(streak.id)) == state(full) == state(app.repository.get_many([streak.id])[streak.id])
    assert full.version == 11 and len(full.days) == 10 and full.by_month == {date(2025, 9, 1): 10}
    assert state(app.repository.get(streak.id, version=6)) == state(project_aggregate(None, app.events.get(streak.id, lte=6)))


def test_a_save_of_several_events_that_crosses_a_multiple_takes_a_snapshot(app):
    streak = grown(app, "bo", misses=6, per_save=3)  # versions 1, 4, 7: 4 and 7 cross 4 and 8? 4 yes, 7 no
    assert snapshot_versions(app, streak.id) == [4]
    streak = grown(app, "chen", misses=9, per_save=3)  # 1 → 4 → 7 → 10: crosses 4 and 8
    assert snapshot_versions(app, streak.id) == [10]


def test_many_aggregates_snapshotted_or_not_are_read_in_one_query(app, monkeypatch):
    long_ = grown(app, "long", misses=13)
    short = grown(app, "short", misses=2)
    exact = grown(app, "exact", misses=7)  # version 8: the snapshot is the whole state, no events after it
    missing = Streak.create_id("nobody")
    assert snapshot_versions(app, long_.id) == [12] and snapshot_versions(app, short.id) == []
    assert snapshot_versions(app, exact.id) == [8]
    reads = count_reads(app, monkeypatch)
    found = app.repository.get_many([long_.id, short.id, exact.id, missing, long_.id])
    assert reads == {"one": 0, "many": 1}
    assert set(found) == {long_.id, short.id, exact.id}
    for aggregate_id, aggregate in found.items():
        assert state(aggregate) == state(replayed(app, aggregate_id))


def test_optimistic_concurrency_holds_for_aggregates_read_from_a_snapshot(app):
    streak = grown(app, "dan", misses=8)
    first, second = app.repository.get_many([streak.id])[streak.id], app.repository.get(streak.id)
    first.miss(date(2025, 10, 1))
    second.miss(date(2025, 10, 2))
    app.save(first)
    with pytest.raises(IntegrityError):
        app.save(second)
    assert replayed(app, streak.id).days[-1] == date(2025, 10, 1)


def test_a_snapshot_written_by_another_version_of_the_class_is_ignored(app, monkeypatch):
    streak = grown(app, "eve", misses=5)
    monkeypatch.setattr(snapshot_module, "class_fingerprint", lambda cls: "another version of the class")
    assert state(app.repository.get(streak.id)) == state(replayed(app, streak.id))
    assert state(app.repository.get_many([streak.id])[streak.id]) == state(replayed(app, streak.id))


@pytest.mark.parametrize("spoil", ["state", "topic"])
def test_a_snapshot_that_cannot_be_read_is_ignored(app, database_url, spoil):
    streak = grown(app, "fay", misses=5)
    table = sql.Identifier(app.snapshots.recorder.datastore.schema, app.snapshots.recorder.events_table_name)
    change = {"state": "state = 'not json'::bytea", "topic": "topic = 'services.gone:Streak'"}[spoil]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("UPDATE {} SET " + change).format(table))
    others = grown(app, "gus", misses=5)
    found = app.repository.get_many([streak.id, others.id])
    assert state(found[streak.id]) == state(replayed(app, streak.id))
    assert state(found[others.id]) == state(replayed(app, others.id))
    assert state(app.repository.get(streak.id)) == state(replayed(app, streak.id))


def test_a_missing_aggregate_is_still_not_found(app):
    with pytest.raises(AggregateNotFoundError):
        app.repository.get(Streak.create_id("nobody"))
    assert app.repository.get_many([Streak.create_id("nobody")]) == {}


def test_in_memory_stores_snapshot_and_read_alike():
    app = in_memory(StreakApp)
    streak = grown(app, "hal", misses=9)
    assert [s.originator_version for s in app.snapshots.get(streak.id)] == [4, 8]  # no pruning in memory
    assert state(app.repository.get_many([streak.id])[streak.id]) == state(replayed(app, streak.id))


def test_dicts_keyed_by_dates_survive_the_snapshot():
    streak = Streak(key="ivy")
    streak.miss(date(2025, 9, 30))
    streak.miss(date(2025, 10, 1))
    restored = ServiceSnapshot.take(streak).mutate(None)
    assert restored.by_month == {date(2025, 9, 1): 1, date(2025, 10, 1): 1}
