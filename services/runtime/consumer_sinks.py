"""Where a consumer's effects land, atomically with its position per topic partition (and its lease check).

A sink's ``fence`` (set by the consumer loop, ``consumer_leases.Leases.fence``) runs inside every transaction that
commits effects or positions, before they are written: it raises ``LeaseLost`` unless this member still holds the
lease of every partition in it, and keeps those lease rows share-locked until commit, so a member taking one over
waits for that commit and then reads the position it left."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Callable, ContextManager, Iterable, Protocol

import psycopg
from eventsourcing.persistence import IntegrityError as ConcurrencyError
from eventsourcing.persistence import Tracking

from services.runtime.consumer_messages import BatchConflict, Message
from services.runtime import tracing
from services.runtime.db import Database

OFFSETS_DDL = """
CREATE TABLE IF NOT EXISTS consumer_offsets (
    consumer text NOT NULL, topic text NOT NULL, partition int NOT NULL, next_offset bigint NOT NULL,
    cluster_id text NOT NULL DEFAULT '', PRIMARY KEY (consumer, topic, partition)
);
CREATE TABLE IF NOT EXISTS consumer_positions (
    consumer text NOT NULL, topic text NOT NULL, partition int NOT NULL, sequence bigint NOT NULL,
    PRIMARY KEY (consumer, topic, partition)
);
"""

Fence = Callable[[Any, list[str]], None]  # (cursor or connection of the effect transaction, tracks) -> None
Item = tuple[str, int, Callable[..., Any], Message]  # (track, sequence, policy, message)
Also = Callable[[Any], None]  # more to write in a skip's transaction, after the fence (a dead letter's record)


def consumer_of(track: str) -> str:
    """The consumer named in a track ``consumer:topic:partition``."""
    return track.rsplit(":", 2)[0]


def split_track(track: str) -> tuple[str, int]:
    """A track ``consumer:topic:partition`` as (topic, partition)."""
    _, topic, partition = track.rsplit(":", 2)
    return topic, int(partition)


class Sink(Protocol):
    """Where effects land, atomically with the consumer's position."""

    fence: Fence | None

    def last_applied(self, track: str) -> int: ...

    def apply(self, track: str, sequence: int, policy: Callable[..., Any], message: Message) -> bool: ...

    def skip(self, track: str, sequence: int, also: Also | None = None) -> None: ...

    def skip_many(self, positions: list[tuple[str, int]]) -> None: ...


class EventSink:
    """Effects are aggregates saved to the service's event store with a tracking record.

    A policy may declare the ids of the aggregates it loads for a message (``services.runtime.eventstore.loads``,
    read from the policy or, for a ``functools.partial``, from its function): ``apply_batch`` reads all of them in
    one query before the first policy runs instead of one query per message."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.fence: Fence | None = None

    def last_applied(self, track: str) -> int:
        return self.app.last_tracked(track)

    def _save(self, items: list[Item], positions: list[tuple[str, int]] = (),  # type: ignore[assignment]
              also: Also | None = None) -> None:
        """One unit of work for these messages (and bare positions), saved in one transaction with the fence (and
        ``also``, after it)."""
        with self.app.batch() as batch:
            batch.prefetch(aggregate_id for _track, _sequence, policy, message in items
                           for aggregate_id in self._loads(policy, message))
            for track, sequence, policy, message in items:
                if not tracing.enabled:  # no span to open: a poll's thousands of messages skip building one
                    batch.add(policy(message) or (), Tracking(track, sequence))
                    continue
                with tracing.consume_span(consumer_of(track), message):
                    batch.add(policy(message) or (), Tracking(track, sequence))
            for track, sequence in positions:
                batch.add((), Tracking(track, sequence))
            if self.fence is not None or also is not None:
                fence, tracks = self.fence, list(batch.trackings)

                def guard(curs: Any) -> None:
                    if fence is not None:
                        fence(curs, tracks)
                    if also is not None:
                        also(curs)

                batch.processing_event.saved_kwargs["fence"] = guard
            self.app.save_batch(batch)

    def apply(self, track: str, sequence: int, policy: Callable[[Message], Iterable[Any]], message: Message) -> bool:
        """Applies one message; False if its position was already there (applied before)."""
        try:
            self._save([(track, sequence, policy, message)])
        except ConcurrencyError:
            if self.last_applied(track) >= sequence:
                return False
            raise
        return True

    def skip(self, track: str, sequence: int, also: Also | None = None) -> None:
        try:
            self._save([], [(track, sequence)], also)
        except ConcurrencyError:
            if self.last_applied(track) < sequence:
                raise

    def apply_batch(self, items: list[Item]) -> None:
        """Applies many messages as one unit of work (each policy sees what the earlier ones changed) and saves
        every event and position in one transaction; all or nothing."""
        try:
            self._save(items)
        except ConcurrencyError as exc:  # an API request changed one of its aggregates meanwhile
            raise BatchConflict(str(exc)) from exc

    @staticmethod
    def _loads(policy: Callable[..., Any], message: Message) -> Iterable[Any]:
        ids = getattr(policy, "loads", None) or getattr(getattr(policy, "func", None), "loads", None)
        return ids(message) if ids is not None else ()

    def skip_many(self, positions: list[tuple[str, int]]) -> None:
        """Moves positions past messages this consumer has no policy for, in one transaction."""
        try:
            self._save([], positions)
        except ConcurrencyError:  # a position already there (or past it): one at a time, as ``skip`` tolerates
            for track, sequence in positions:
                self.skip(track, sequence)


class ProjectionSink:
    """Effects are rows written through one connection, committed with the position.

    ``scope`` (optional) is entered around each transaction with its connection: a consumer keeps what its
    policies share across one batch there (a row cache, counters summed once) and writes it on the way out.
    ``prepare`` (optional) is called inside the scope with the messages about to be applied (those past their
    partition's position, in order), before the first policy: a consumer loads the rows a batch will touch in one
    query there instead of one query per message."""

    def __init__(self, db: Database, consumer: str,
                 scope: Callable[[psycopg.Connection], ContextManager[Any]] | None = None,
                 prepare: Callable[[psycopg.Connection, list[Message]], None] | None = None) -> None:
        self.db = db
        self.consumer = consumer
        self.scope = scope or (lambda _conn: nullcontext())
        self.prepare = prepare
        self.fence: Fence | None = None
        db.ensure_tables(OFFSETS_DDL)

    def _fence(self, conn: psycopg.Connection, tracks: list[str]) -> None:
        if self.fence is not None:
            self.fence(conn, tracks)

    def last_applied(self, track: str) -> int:
        topic, partition = split_track(track)
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT sequence FROM consumer_positions WHERE consumer=%s AND topic=%s AND partition=%s",
                (self.consumer, topic, partition),
            ).fetchone()
        return row["sequence"] if row else 0

    def _positions(self, conn: psycopg.Connection, tracks: Iterable[str]) -> dict[str, int]:
        """The committed positions of these partitions, locked until the transaction ends."""
        tracks = list(tracks)
        split = [split_track(t) for t in tracks]
        rows = conn.execute(
            "SELECT topic, partition, sequence FROM consumer_positions WHERE consumer = %s AND (topic, partition) IN "
            "(SELECT * FROM unnest(%s::text[], %s::int[])) FOR UPDATE",
            (self.consumer, [t for t, _ in split], [p for _, p in split]),
        ).fetchall()
        found = {(r["topic"], r["partition"]): r["sequence"] for r in rows}
        return {track: found.get(tp, 0) for track, tp in zip(tracks, split)}

    def _advance(self, conn: psycopg.Connection, track: str, sequence: int) -> bool:
        topic, partition = split_track(track)
        row = conn.execute(
            "INSERT INTO consumer_positions AS p (consumer, topic, partition, sequence) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (consumer, topic, partition) DO UPDATE SET sequence = EXCLUDED.sequence "
            "WHERE p.sequence < EXCLUDED.sequence RETURNING sequence",
            (self.consumer, topic, partition, sequence),
        ).fetchone()
        return row is not None

    def _advance_many(self, conn: psycopg.Connection, positions: Iterable[tuple[str, int]]) -> None:
        """Moves every partition's position forward (never back) in one statement: one round trip per
        transaction, not one per partition (a poll of 24 partitions wrote 24 statements)."""
        latest: dict[str, int] = {}
        for track, sequence in positions:  # one row per partition: ON CONFLICT may touch a row only once
            if sequence > latest.get(track, -1):
                latest[track] = sequence
        if not latest:
            return
        split = [split_track(t) for t in latest]
        conn.execute(
            "INSERT INTO consumer_positions AS p (consumer, topic, partition, sequence) "
            "SELECT %s, t, n, s FROM unnest(%s::text[], %s::int[], %s::bigint[]) AS u(t, n, s) "
            "ON CONFLICT (consumer, topic, partition) DO UPDATE SET sequence = EXCLUDED.sequence "
            "WHERE p.sequence < EXCLUDED.sequence",
            (self.consumer, [t for t, _ in split], [n for _, n in split], list(latest.values())),
        )

    def apply(self, track: str, sequence: int, policy: Callable[[Message, psycopg.Connection], None],
              message: Message) -> bool:
        with self.db.transaction() as conn, self.scope(conn):
            self._fence(conn, [track])
            if not self._advance(conn, track, sequence):
                return False
            if self.prepare is not None:
                self.prepare(conn, [message])
            with tracing.consume_span(self.consumer, message):
                policy(message, conn)
        return True

    def skip(self, track: str, sequence: int, also: Also | None = None) -> None:
        self.skip_many([(track, sequence)], also)

    def skip_many(self, positions: list[tuple[str, int]], also: Also | None = None) -> None:
        """Moves positions past messages this consumer has no policy for, in one transaction (with ``also``)."""
        with self.db.transaction() as conn:
            self._fence(conn, list(dict.fromkeys(track for track, _ in positions)))
            self._advance_many(conn, positions)
            if also is not None:
                also(conn)

    def apply_batch(self, items: list[Item]) -> None:
        """Applies many messages in one transaction (15-20x faster than one each); all or nothing. Positions are
        read in one statement and written in one; a message at or below its partition's position is passed over."""
        with self.db.transaction() as conn, self.scope(conn):
            tracks = list(dict.fromkeys(track for track, *_ in items))
            self._fence(conn, tracks)
            before = self._positions(conn, tracks)
            last, todo = dict(before), []
            for track, sequence, policy, message in items:
                if sequence > last[track]:
                    todo.append((policy, message))
                    last[track] = sequence
            if self.prepare is not None and todo:
                self.prepare(conn, [message for _policy, message in todo])
            for policy, message in todo:
                if not tracing.enabled:  # no span to open: a poll's thousands of messages skip building one
                    policy(message, conn)
                    continue
                with tracing.consume_span(self.consumer, message):
                    policy(message, conn)
            self._advance_many(conn, [(track, sequence) for track, sequence in last.items() if sequence > before[track]])
