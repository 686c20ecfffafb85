"""Prometheus metrics of one process, on its own registry (built by the bootstrap, not at import)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server


@dataclass
class Metrics:
    """Every metric a Baoxue process may export; unused ones simply stay at zero."""

    service: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.http_requests = Counter(
            "baoxue_http_requests_total", "HTTP requests", ["service", "method", "route", "status"], registry=r
        )
        self.http_latency = Histogram(
            "baoxue_http_request_seconds",
            "HTTP request latency",
            ["service", "method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.events_appended = Counter(
            "baoxue_events_appended_total", "Domain events appended to the event store", ["service", "type"], registry=r
        )
        self.relay_published = Counter(
            "baoxue_relay_published_total", "Events published to Kafka by the relay", ["service", "topic"], registry=r
        )
        self.relay_lag = Gauge(
            "baoxue_relay_lag_events", "Events in the store not yet published", ["service"], registry=r
        )
        self.relay_position = Gauge("baoxue_relay_position", "Last published notification id", ["service"], registry=r)
        self.relay_refills = Counter(
            "baoxue_relay_refills_total", "Times the relay refilled a broker that lost its data", ["service"], registry=r
        )
        self.consumed = Counter(
            "baoxue_consumer_messages_total",
            "Messages handled by a consumer",
            ["service", "consumer", "topic", "outcome"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "baoxue_consumer_lag_messages",
            "High watermark minus next offset, per partition",
            ["service", "consumer", "topic", "partition"],
            registry=r,
        )
        self.dead_lettered = Counter(
            "baoxue_dead_lettered_total", "Messages sent to a dead-letter topic", ["service", "consumer", "reason"], registry=r
        )
        self.consumer_rewinds = Counter(
            "baoxue_consumer_rewinds_total",
            "Partitions re-read from the start after a gap in the sequence chain",
            ["service", "consumer", "topic"],
            registry=r,
        )

    def render(self) -> bytes:
        """The text exposition format of this registry."""
        return generate_latest(self.registry)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Serves /metrics on its own port (relay and consumer processes)."""
        start_http_server(port, addr=host, registry=self.registry)
