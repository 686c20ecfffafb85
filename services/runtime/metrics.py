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
        # Defined for deploy/k8s alerts and dashboards; not wired yet (see deploy/README.md, "Alerts and metrics").
        self.dependency_up = Gauge(
            "baoxue_dependency_up", "1 if the last check of a dependency (database, broker) succeeded, else 0",
            ["service", "role", "dependency"], registry=r,
        )
        self.scheduler_ticks = Counter(
            "baoxue_scheduler_ticks_total", "Scheduler ticks by outcome (ok, failed)", ["service", "outcome"], registry=r
        )
        self.scheduler_last_tick = Gauge(
            "baoxue_scheduler_last_tick_timestamp_seconds", "Unix time of the last tick that succeeded", ["service"],
            registry=r,
        )
        self.day_closes_overdue = Gauge(
            "baoxue_day_closes_overdue", "School days past their cut-off that are not closed yet", ["service"],
            registry=r,
        )
        self.checkins_recorded = Counter(
            "baoxue_checkins_recorded_total", "Check-ins stored (rows of accepted check-in batches)", ["service"],
            registry=r,
        )
        self.cases_open = Gauge("baoxue_cases_open", "Cases not closed (销号) yet", ["service"], registry=r)
        self.case_deadlines_overdue = Gauge(
            "baoxue_case_deadlines_overdue", "Case deadlines passed without the step they demand", ["service"],
            registry=r,
        )

    def render(self) -> bytes:
        """The text exposition format of this registry."""
        return generate_latest(self.registry)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Serves /metrics on its own port (relay and consumer processes)."""
        start_http_server(port, addr=host, registry=self.registry)
