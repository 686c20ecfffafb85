"""Relay shards: the positions of a relay per topic partition, so several relay replicas of one store publish
disjoint partition sets at once (services/runtime/README.md, *Replicas*, Relays).

Each partition is leased to one replica (``consumer_leases.Leases`` under the consumer name ``relay:<service>[:<store>]``)
and has a row of ``relay_partitions``: the last notification id through which its messages are on the broker
(``position``), the last sequence published to it (``prev``: the chain consumers check), the broker it refers to
(``cluster_id``), and the highest notification id ever published to it (``published_upto``: kept across refills,
so a partition-count change switches after everything any replica ever hashed by the older count). A row is written
only in a transaction that first fences its lease and only while it still names the broker the writer read.

The partition plan (``relay_position.partitions``) is one per topic: a replica holds the advisory lock
``baoxue-relay-plan:<topic>`` shared from its first produce after a drain until its next drain, so a replica growing
the plan (exclusive) waits until every message produced by the older plan is acknowledged and stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from services.runtime.consumer_leases import LEASES_DDL, Leases
from services.runtime.db import Database, Leadership
from services.runtime.partitioning import PartitionPlan

SHARDS_DDL = """
CREATE TABLE IF NOT EXISTS relay_partitions (
    topic text NOT NULL,
    partition int NOT NULL,
    position bigint NOT NULL DEFAULT 0,
    prev bigint NOT NULL DEFAULT 0,
    cluster_id text,
    published_upto bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);
""" + LEASES_DDL


class StaleShard(RuntimeError):
    """A partition row names another broker than the one this replica read it with (a refill was started)."""


@dataclass(frozen=True)
class ShardRow:
    position: int
    prev: int
    cluster_id: str | None
    published_upto: int


class Shards:
    """One relay replica's partition rows and plan lock (on ``leadership``, its session connection)."""

    def __init__(self, db: Database, topic: str, leases: Leases, leadership: Leadership) -> None:
        self.db = db
        self.topic = topic
        self.leases = leases
        self.leadership = leadership
        self.plan_lock = f"baoxue-relay-plan:{db.schema}:{topic}"
        self._held_on: Any = None  # the session connection the plan lock is held on (lost with it)
        self._plan_sql = sql.SQL("SELECT pg_advisory_lock_shared(hashtext(%s)), (SELECT partitions FROM {} "
                                 "WHERE topic = %s)").format(sql.Identifier(db.schema, "relay_position"))

    def track(self, partition: int) -> str:
        return f"{self.leases.consumer}:{self.topic}:{partition}"

    # -- rows --------------------------------------------------------------------------------------
    def load(self, partitions: list[int] | None = None) -> dict[int, ShardRow]:
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT partition, position, prev, cluster_id, published_upto FROM relay_partitions WHERE topic = %s"
                + (" AND partition = ANY(%s)" if partitions is not None else ""),
                (self.topic, partitions) if partitions is not None else (self.topic,)).fetchall()
        return {r["partition"]: ShardRow(r["position"], r["prev"], r["cluster_id"], r["published_upto"]) for r in rows}

    def ensure_rows(self, count: int) -> None:
        """A row for every partition of the plan's first count; a topic published by the single-row relay before
        (``relay_position``'s position, chain and cluster) starts each row there: the conversion, once."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO relay_partitions (topic, partition, position, prev, cluster_id, published_upto) "
                "SELECT %(t)s, p, coalesce(r.position, 0), coalesce((r.chain ->> p::text)::bigint, 0), r.cluster_id, "
                "coalesce(r.position, 0) FROM generate_series(0, %(n)s::int - 1) AS p "
                "LEFT JOIN relay_position r ON r.topic = %(t)s ON CONFLICT DO NOTHING", {"t": self.topic, "n": count})

    def save(self, positions: dict[int, int], chain: dict[int, int], cluster_id: str | None,
             expected: str | None = None, *, reset: bool = False) -> None:
        """Stores positions and chain of held partitions (fenced by their leases); unless ``reset`` only where the row
        still names ``expected`` (else ``StaleShard``: someone started a refill)."""
        if not positions:
            return
        parts = sorted(positions)
        with self.db.transaction() as conn:
            self.leases.fence(conn, [self.track(p) for p in parts])
            written = conn.execute(
                "INSERT INTO relay_partitions AS r (topic, partition, position, prev, cluster_id, published_upto) "
                "SELECT %(t)s, u.p, u.pos, u.prev, %(c)s, u.pos FROM unnest(%(p)s::int[], %(pos)s::bigint[], "
                "%(prev)s::bigint[]) AS u(p, pos, prev) ON CONFLICT (topic, partition) DO UPDATE SET "
                "position = EXCLUDED.position, prev = EXCLUDED.prev, cluster_id = EXCLUDED.cluster_id, "
                "published_upto = greatest(r.published_upto, EXCLUDED.position), updated_at = now() "
                + ("" if reset else "WHERE r.cluster_id IS NOT DISTINCT FROM %(e)s ") + "RETURNING r.partition",
                {"t": self.topic, "c": cluster_id, "e": expected, "p": parts, "pos": [positions[p] for p in parts],
                 "prev": [chain.get(p, 0) for p in parts]}).fetchall()
            if len(written) != len(parts):
                raise StaleShard(f"{len(parts) - len(written)} partition(s) of {self.topic} are being refilled")

    def now(self) -> Any:
        """The database's clock (row times are its own)."""
        with self.db.transaction() as conn:
            return conn.execute("SELECT clock_timestamp() AS t").fetchone()["t"]

    def forget_broker(self, seen_at: Any) -> None:
        """The topic was missing from a broker that kept its cluster id when looked at after ``seen_at``: every row
        (held by anyone) written before is to be refilled. A row written since was written by a replica that saw the
        topic there (the one that recreated it creates it before it writes), so two replicas that both found the topic
        missing at start do not refill each other's fresh partitions."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE relay_partitions SET cluster_id = NULL WHERE topic = %s AND updated_at < %s",
                         (self.topic, seen_at))

    # -- the plan ------------------------------------------------------------------------------------
    def stored_plan(self) -> tuple[bool, PartitionPlan | None, int]:
        """Whether the topic has a ``relay_position`` row, its plan, and its legacy position."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT position, partitions FROM relay_position WHERE topic = %s",
                               (self.topic,)).fetchone()
        if row is None:
            return False, None, 0
        return True, PartitionPlan.from_json(row["partitions"]), row["position"]

    def change_plan(self, decide: Any, cluster_id: str | None) -> PartitionPlan:
        """Writes ``decide(stored plan, switch)`` as the plan, exclusively: waits until no replica has messages of the
        older plan in flight; ``switch`` is the highest notification id ever published to the topic. Rows of the
        partitions the new plan adds start at the switch (nothing before it is theirs), on the current broker."""
        with self.db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.plan_lock,))
            row = conn.execute("SELECT position, partitions FROM relay_position WHERE topic = %s FOR UPDATE",
                               (self.topic,)).fetchone()
            upto = conn.execute("SELECT coalesce(max(published_upto), 0) AS m FROM relay_partitions WHERE topic = %s",
                                (self.topic,)).fetchone()["m"]
            stored = PartitionPlan.from_json(row["partitions"]) if row else None
            switch = max(upto, row["position"] if row else 0)
            plan = decide(stored, switch)
            if plan == stored:
                return plan
            conn.execute("INSERT INTO relay_position (topic, position, partitions) VALUES (%s, 0, %s) "
                         "ON CONFLICT (topic) DO UPDATE SET partitions = EXCLUDED.partitions, updated_at = now()",
                         (self.topic, json.dumps(plan.to_json())))
            if stored is not None and plan.current > stored.current:
                conn.execute(
                    "INSERT INTO relay_partitions (topic, partition, position, cluster_id, published_upto) "
                    "SELECT %s, p, %s, %s, %s FROM generate_series(%s::int, %s::int) AS p ON CONFLICT DO NOTHING",
                    (self.topic, switch, cluster_id, switch, stored.current, plan.current - 1))
            return plan

    @property
    def plan_shared(self) -> bool:
        """Whether this replica holds the plan lock on its current session (a lost session let go of it)."""
        return self._held_on is not None and self._held_on is self.leadership.connection

    def hold_plan(self) -> PartitionPlan | None:
        """Takes the plan lock shared (until ``release_plan``) and reads the plan it protects."""
        row = self.leadership.execute(self._plan_sql, (self.plan_lock, self.topic)).fetchone()
        self._held_on = self.leadership.connection
        return PartitionPlan.from_json(row[1]) if row else None

    def release_plan(self) -> None:
        held, self._held_on = self.plan_shared, None
        if held:
            self.leadership.execute("SELECT pg_advisory_unlock_shared(hashtext(%s))", (self.plan_lock,))

    # -- members -------------------------------------------------------------------------------------
    def evict_dead(self, member_lock: Any) -> list[str]:
        """Members whose session lock nobody holds (their process died: PostgreSQL ended the session) are evicted at
        once, so their partitions move at the next heartbeat instead of after the lease time."""
        with self.db.transaction() as conn:
            others = [r["member"] for r in conn.execute(
                "SELECT member FROM consumer_members WHERE consumer = %s AND member <> %s",
                (self.leases.consumer, self.leases.member)).fetchall()]
            dead = []
            for member in others:
                name = member_lock(member)
                # a transaction lock: let go at commit whatever happens (a session lock left behind would make the
                # member look alive for ever, and keep it from taking its own lock again)
                if conn.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s)) AS got", (name,)).fetchone()["got"]:
                    dead.append(member)
        self.leases.evict(dead)
        return dead
