"""The Kafka side of a consumer: its client's configuration, offsets as hints of where its partitions resume
(positions decide what is applied), and lag."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Consumer

from services.runtime.consumer_leases import Key
from services.runtime.db import Database
from services.runtime.kafka import BrokerWatch
from services.runtime.metrics import Metrics


def kafka_consumer(bootstrap: str, name: str, poll_wait_s: float, watch: BrokerWatch | None = None) -> Consumer:
    """A client outside any group's rebalancing: partitions are assigned from the leases, offsets never committed.
    With a ``watch``, it is one its loop replaces when it loses every broker (``kafka.REPLACED_ON_LOSS``)."""
    return Consumer({
        **(watch.config() if watch is not None else {}),
        "bootstrap.servers": bootstrap,
        "group.id": f"baoxue-{name}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        # how long the broker may hold a fetch of a quiet partition. A real Kafka broker answers it as soon as a
        # message arrives; tansu within about half of it (produce → poll, linger 0, load 10-20: 200 ms → p50
        # 23-35 ms, max ~110; 100 → 11/58; 50 → 12/32), and its idle CPU grows as it shrinks (3 clients of 16
        # partitions each: 3.3 % of a core at 200 ms, 6.6 % at 100, 9.9 % at 50, 17.9 % at 20), so it stays at the
        # poll wait. (The 202 ms p50 measured here before was the poll's own wait: ``ConsumerLoop.fetch_batch``.)
        "fetch.wait.max.ms": int(poll_wait_s * 1000),
    })


class OffsetHints:
    """``consumer_offsets``: the next offset per partition, meaningful only on the broker (cluster id) it was read
    from; written after the positions, so a hint is never ahead of what was applied."""

    def __init__(self, db: Database, consumer: str) -> None:
        self.db = db
        self.consumer = consumer

    def load(self, cluster_id: str | None) -> dict[Key, int]:
        with self.db.transaction() as conn:
            return {(r["topic"], r["partition"]): r["next_offset"] for r in conn.execute(
                "SELECT * FROM consumer_offsets WHERE consumer=%s AND cluster_id=%s",
                (self.consumer, cluster_id)).fetchall()}

    def save(self, hints: dict[Key, int], cluster_id: str | None) -> None:
        if not hints:
            return
        keys = list(hints)
        with self.db.transaction() as conn:  # one statement for every partition of the poll
            conn.execute(
                "INSERT INTO consumer_offsets (consumer, topic, partition, next_offset, cluster_id) "
                "SELECT %s, t, p, o, %s FROM unnest(%s::text[], %s::int[], %s::bigint[]) AS u(t, p, o) "
                "ON CONFLICT (consumer, topic, partition) DO UPDATE SET "
                "next_offset = EXCLUDED.next_offset, cluster_id = EXCLUDED.cluster_id",
                (self.consumer, cluster_id or "", [t for t, _ in keys], [p for _, p in keys], [hints[k] for k in keys]),
            )


def report_lag(consumer: Any, metrics: Metrics, service: str, name: str) -> None:
    """Messages behind the high watermark per assigned partition (best effort), from what the client already knows:
    the high watermark arrives with every fetch response (``cached=True``), so this costs no broker round trip.
    Asking the broker (``cached=False``) was one ListOffsets request per partition, each up to its 1 s timeout: on
    24 partitions every 5 s it was 83% of a consumer's wall time during an onboarding (py-spy). A partition not
    fetched yet has no watermark and is left out until it has. Samples of partitions no longer assigned (a lease
    that moved while the client was closed and restarted) are removed (``forget_lag``)."""
    try:
        positions = consumer.position(consumer.assignment())
    except Exception:  # noqa: BLE001 - lag is best effort
        return
    assigned = {(tp.topic, tp.partition) for tp in positions}
    forget_lag(metrics, service, name, [k for k in lag_reported(metrics, service, name) if k not in assigned])
    for tp in positions:
        try:
            _low, high = consumer.get_watermark_offsets(tp, cached=True)
        except Exception:  # noqa: BLE001
            continue
        if high is None or high < 0:
            continue
        lag = max(0, high - tp.offset) if tp.offset >= 0 else high
        metrics.consumer_lag.labels(service, name, tp.topic, str(tp.partition)).set(lag)


def lag_reported(metrics: Metrics, service: str, name: str) -> set[Key]:
    """The partitions this process has a lag sample for, for consumer ``name`` of ``service``."""
    out: set[Key] = set()
    for family in metrics.consumer_lag.collect():
        for sample in family.samples:
            labels = sample.labels
            if labels.get("service") == service and labels.get("consumer") == name:
                out.add((labels["topic"], int(labels["partition"])))
    return out


def forget_lag(metrics: Metrics, service: str, name: str, keys: Any) -> None:
    """Removes the lag samples of partitions this replica no longer reads (a lease given up or lost): their lag is
    the new holder's to report, and a stale value here would stay for ever (a dashboard summing every replica's
    lag, or a bench waiting for lag 0, would never see the partition caught up)."""
    for topic, partition in keys:
        metrics.consumer_lag.remove(service, name, topic, str(partition))
