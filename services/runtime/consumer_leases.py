"""Partition leases in the service's own PostgreSQL: N replicas of one consumer split its topic partitions.

Each replica is a member with a heartbeat row. Every heartbeat (``lease_s / 3``) a member, under a per-consumer
transaction lock: renews its member row and its leases, counts the live members, and takes free or expired leases
up to its fair share ``ceil(P / live)`` or releases what it holds beyond it (a member that joined takes them on its
next heartbeat). Taking a lease bumps its epoch. ``fence`` runs inside every effect transaction: the partitions it
commits positions for must still be held at the epoch this member took them with, or it raises ``LeaseLost``; the
lease rows stay share-locked until commit, so a member taking one over waits for that commit and then reads the
position it left. A replica killed without releasing loses its leases when they expire (``lease_s``). Between two
heartbeats of the loop a thread renews the expiry times, so a long batch keeps them (unless the loop made no
progress for ``6 × lease_s``)."""

from __future__ import annotations

import math
import os
import socket
import threading
import time
import uuid
from typing import Any, Iterable

import psycopg
from psycopg import sql

from services.runtime.consumer_messages import LeaseLost
from services.runtime.consumer_sinks import split_track
from services.runtime.db import Database

Key = tuple[str, int]  # (topic, partition)

LEASES_DDL = """
CREATE TABLE IF NOT EXISTS consumer_members (
    consumer text NOT NULL, member text NOT NULL, expires_at timestamptz NOT NULL, PRIMARY KEY (consumer, member)
);
CREATE TABLE IF NOT EXISTS consumer_leases (
    consumer text NOT NULL, topic text NOT NULL, partition int NOT NULL, holder text, epoch bigint NOT NULL DEFAULT 0,
    expires_at timestamptz, PRIMARY KEY (consumer, topic, partition)
);
CREATE TABLE IF NOT EXISTS consumer_partition_counts (
    consumer text NOT NULL, topic text NOT NULL, partitions int NOT NULL, seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partitions)
);
"""


def new_member_id() -> str:
    """Unique per process start: a restarted replica is a new member and never inherits an epoch."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Leases:
    """One member's view of its consumer's partition leases: used from the consumer loop's thread, but for
    ``renew`` (its renewal thread, which only extends expiry times)."""

    def __init__(self, db: Database, consumer: str, lease_s: float, logger: Any, member: str | None = None,
                 heartbeat_s: float | None = None) -> None:
        self.db = db
        self.consumer = consumer
        self.lease_s = lease_s
        self.heartbeat_s = heartbeat_s if heartbeat_s is not None else lease_s / 3
        self.member = member or new_member_id()
        self.log = logger
        self.held: dict[Key, int] = {}  # partition -> epoch this member holds it at
        self._next_tick = 0.0
        self._mark: psycopg.Connection | None = None
        self._renewer: threading.Thread | None = None
        self._stop_renewing = threading.Event()
        self._progress = time.monotonic()
        table = sql.Identifier(db.schema, "consumer_leases")
        self._fence_sql = sql.SQL(
            "SELECT topic, partition, epoch FROM {} WHERE consumer = %s AND holder = %s AND (topic, partition) IN "
            "(SELECT * FROM unnest(%s::text[], %s::int[])) FOR KEY SHARE").format(table)
        db.ensure_tables(LEASES_DDL)

    # -- partitions and their counts -----------------------------------------------------------
    def ensure(self, partitions: Iterable[Key]) -> None:
        """A lease row for every partition (new partitions of a grown topic included); existing rows are kept."""
        keys = sorted(set(partitions))
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO consumer_leases (consumer, topic, partition) SELECT %s, t, p FROM unnest(%s::text[], "
                "%s::int[]) AS u(t, p) ON CONFLICT DO NOTHING",
                (self.consumer, [t for t, _ in keys], [p for _, p in keys]))

    def record_counts(self, counts: dict[str, set[int]]) -> dict[str, set[int]]:
        """Remembers each topic's partition count and returns every count a topic has had (a grown topic keeps
        its older messages where the older count put them)."""
        with self.db.transaction() as conn:
            for topic, ns in counts.items():
                for n in ns:
                    conn.execute("INSERT INTO consumer_partition_counts (consumer, topic, partitions) VALUES "
                                 "(%s, %s, %s) ON CONFLICT DO NOTHING", (self.consumer, topic, n))
            rows = conn.execute("SELECT topic, partitions FROM consumer_partition_counts WHERE consumer = %s",
                                (self.consumer,)).fetchall()
        known: dict[str, set[int]] = {}
        for r in rows:
            known.setdefault(r["topic"], set()).add(r["partitions"])
        return known

    # -- running mark ----------------------------------------------------------------------------
    def running(self) -> bool:
        """Holds the shared advisory lock ``baoxue-consumer:<name>`` while the member runs: a tool that must not act
        under a running consumer (reporting's ``reset-positions``) takes it exclusively. False while it does."""
        if self._mark is not None:
            try:
                self._mark.execute("SELECT 1")
                return True
            except psycopg.Error:
                self._mark = None
        try:
            conn = psycopg.connect(self.db.url, autocommit=True, connect_timeout=5)
        except psycopg.Error:
            return False
        row = conn.execute("SELECT pg_try_advisory_lock_shared(hashtext(%s))", (f"baoxue-consumer:{self.consumer}",)).fetchone()
        if row and row[0]:
            self._mark = conn
            return True
        conn.close()
        return False

    # -- heartbeat and fair share --------------------------------------------------------------
    def due(self) -> bool:
        return time.monotonic() >= self._next_tick

    def tick(self, existing: set[Key]) -> dict[Key, int]:
        """Heartbeat: renews, takes or releases leases towards the fair share; returns what this member now holds
        (only partitions in ``existing``, those the broker has)."""
        self._next_tick = time.monotonic() + self.heartbeat_s
        ttl = self.lease_s
        with self.db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"baoxue-leases:{self.db.schema}:{self.consumer}",))
            conn.execute(
                "INSERT INTO consumer_members (consumer, member, expires_at) VALUES (%s, %s, now() + make_interval("
                "secs => %s)) ON CONFLICT (consumer, member) DO UPDATE SET expires_at = EXCLUDED.expires_at",
                (self.consumer, self.member, ttl))
            conn.execute("DELETE FROM consumer_members WHERE consumer = %s AND expires_at < now()", (self.consumer,))
            live = conn.execute("SELECT count(*) AS n FROM consumer_members WHERE consumer = %s",
                                (self.consumer,)).fetchone()["n"]
            rows = [r for r in conn.execute(
                "SELECT topic, partition, holder, (expires_at IS NULL OR expires_at < now()) AS expired "
                "FROM consumer_leases WHERE consumer = %s ORDER BY partition, topic", (self.consumer,)).fetchall()
                if (r["topic"], r["partition"]) in existing]
            fair = math.ceil(len(rows) / max(1, live))
            mine = [(r["topic"], r["partition"]) for r in rows if r["holder"] == self.member]
            release, take = mine[fair:], []
            if len(mine) < fair:
                free = [(r["topic"], r["partition"]) for r in rows
                        if r["holder"] is None or (r["holder"] != self.member and r["expired"])]
                take = free[:fair - len(mine)]
            if release:
                conn.execute(
                    "UPDATE consumer_leases SET holder = NULL, expires_at = NULL WHERE consumer = %s AND holder = %s "
                    "AND (topic, partition) IN (SELECT * FROM unnest(%s::text[], %s::int[]))",
                    (self.consumer, self.member, [t for t, _ in release], [p for _, p in release]))
            if take:  # FOR UPDATE waits for the key-share lock of the old holder's effect transaction, if one
                conn.execute(  # is committing (a plain UPDATE of these columns would not)
                    "SELECT 1 FROM consumer_leases WHERE consumer = %s AND (topic, partition) IN "
                    "(SELECT * FROM unnest(%s::text[], %s::int[])) FOR UPDATE",
                    (self.consumer, [t for t, _ in take], [p for _, p in take]))
                conn.execute(
                    "UPDATE consumer_leases SET holder = %s, epoch = epoch + 1 WHERE consumer = %s "
                    "AND (holder IS NULL OR expires_at IS NULL OR expires_at < now()) "
                    "AND (topic, partition) IN (SELECT * FROM unnest(%s::text[], %s::int[]))",
                    (self.member, self.consumer, [t for t, _ in take], [p for _, p in take]))
            rows = conn.execute(
                "UPDATE consumer_leases SET expires_at = now() + make_interval(secs => %s) WHERE consumer = %s "
                "AND holder = %s RETURNING topic, partition, epoch", (ttl, self.consumer, self.member)).fetchall()
        before, self.held = self.held, {(r["topic"], r["partition"]): r["epoch"] for r in rows
                                        if (r["topic"], r["partition"]) in existing}
        if before != self.held:
            self.log.info("consumer_leases_changed", member=self.member, live_members=live, fair_share=fair,
                          held=len(self.held), taken=len(take), released=len(release))
        return dict(self.held)

    # -- renewal between heartbeats ----------------------------------------------------------
    def progressed(self) -> None:
        """The loop calls this every iteration: renewal stops when it has not for ``6 × lease_s`` (a stuck loop
        loses its partitions, as a Kafka member past max.poll.interval.ms does)."""
        self._progress = time.monotonic()

    def renew(self) -> None:
        """Extends this member's row and leases (no take, no release: that is ``tick``'s, in the loop)."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE consumer_members SET expires_at = now() + make_interval(secs => %s) "
                         "WHERE consumer = %s AND member = %s", (self.lease_s, self.consumer, self.member))
            conn.execute("UPDATE consumer_leases SET expires_at = now() + make_interval(secs => %s) "
                         "WHERE consumer = %s AND holder = %s", (self.lease_s, self.consumer, self.member))

    def start_renewing(self) -> None:
        """A thread that renews every heartbeat, so a long batch does not cost the member its leases."""
        if self._renewer is not None and self._renewer.is_alive():
            return
        self._stop_renewing.clear()
        self._progress = time.monotonic()

        def run() -> None:
            while not self._stop_renewing.wait(self.heartbeat_s):
                if time.monotonic() - self._progress > 6 * self.lease_s:
                    continue
                try:
                    self.renew()
                except Exception as exc:  # noqa: BLE001 - the next heartbeat tries again; leases may expire
                    self.log.warning("consumer_lease_renewal_failed", error=type(exc).__name__)

        self._renewer = threading.Thread(target=run, name=f"lease-renewal-{self.consumer}", daemon=True)
        self._renewer.start()

    def stop_renewing(self) -> None:
        self._stop_renewing.set()
        if self._renewer is not None:
            self._renewer.join(5)
            self._renewer = None

    def evict(self, members: list[str]) -> None:
        """Ends members known dead before their leases expire (a relay shard sees a member's session lock free):
        their rows go and their leases become takeable at the next heartbeat (the taker bumps the epoch, so a
        member wrongly evicted is fenced, never doubled)."""
        if not members:
            return
        with self.db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"baoxue-leases:{self.db.schema}:{self.consumer}",))
            conn.execute("DELETE FROM consumer_members WHERE consumer = %s AND member = ANY(%s)", (self.consumer, members))
            conn.execute("UPDATE consumer_leases SET expires_at = NULL WHERE consumer = %s AND holder = ANY(%s)",
                         (self.consumer, members))
        self.log.info("consumer_members_evicted", consumer=self.consumer, members=len(members))

    def drop(self, keys: Iterable[Key]) -> None:
        """Forgets leases this member found it lost (a failed fence); the next heartbeat says what it holds."""
        for key in keys:
            self.held.pop(key, None)
        self._next_tick = 0.0

    def release_all(self) -> None:
        """On an orderly stop: frees every lease and the member row, so the others take them at once."""
        self.stop_renewing()
        self.held = {}
        if self._mark is not None:
            self._mark.close()
            self._mark = None
        with self.db.transaction() as conn:
            conn.execute("UPDATE consumer_leases SET holder = NULL, expires_at = NULL WHERE consumer = %s "
                         "AND holder = %s", (self.consumer, self.member))
            conn.execute("DELETE FROM consumer_members WHERE consumer = %s AND member = %s",
                         (self.consumer, self.member))

    # -- fencing -------------------------------------------------------------------------------
    def fence(self, cursor: Any, tracks: list[str]) -> None:
        """Inside an effect transaction: raises LeaseLost unless every partition of ``tracks`` is still held at
        this member's epoch; the rows stay share-locked until commit."""
        keys = [split_track(t) for t in tracks]
        if not keys:
            return
        rows = cursor.execute(  # a cursor's execute returns itself, a connection's a new cursor
            self._fence_sql, (self.consumer, self.member, [t for t, _ in keys], [p for _, p in keys])).fetchall()
        found = {(r["topic"], r["partition"]): r["epoch"] for r in rows}
        lost = [k for k in keys if k not in self.held or found.get(k) != self.held[k]]
        if lost:
            raise LeaseLost(f"lease lost on {len(lost)} partition(s): {lost[:3]}")
