"""Prometheus metrics of one process, on its own registry (built by the bootstrap, not at import)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

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
        # What the deploy/k8s alerts and dashboards watch (deploy/README.md, "Alerts and metrics", says who sets each).
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
        self.cases_open = Gauge(  # county: the 6-digit county code (a province has about a hundred): no personal data
            "baoxue_cases_open", "Cases not closed (销号) yet, per county", ["service", "county"], registry=r
        )
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


def check_passes(check: Callable[[], Any]) -> bool:
    """A dependency check's answer: True only if it returned truthy without raising."""
    try:
        return bool(check())
    except Exception:  # noqa: BLE001 - any failure means the dependency is not there
        return False


class DependencyWatch:
    """Sets ``baoxue_dependency_up{service, role, dependency}`` from each check every ``interval_s`` on a daemon
    thread (relays, consumers and schedulers; an API sets it from its /readyz instead). The first check runs at
    once, so the gauge is there as soon as the metrics server is."""

    def __init__(self, metrics: Metrics, role: str, checks: Mapping[str, Callable[[], Any]],
                 interval_s: float = 15.0) -> None:
        self.metrics, self.role, self.checks, self.interval_s = metrics, role, dict(checks), interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check_once(self) -> dict[str, bool]:
        results = {name: check_passes(check) for name, check in self.checks.items()}
        for name, ok in results.items():
            self.metrics.dependency_up.labels(self.metrics.service, self.role, name).set(1 if ok else 0)
        return results

    def start(self) -> DependencyWatch:
        def loop() -> None:
            while not self._stop.is_set():
                started = time.monotonic()
                self.check_once()
                self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))

        self._thread = threading.Thread(target=loop, name=f"dependency-watch-{self.role}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class Every:
    """Runs ``refresh`` at most once per ``seconds`` (a scheduler refreshing a gauge from its store on its ticks)."""

    def __init__(self, seconds: float, refresh: Callable[[], Any], clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.refresh, self.clock = seconds, refresh, clock
        self.last = float("-inf")

    def __call__(self) -> bool:
        now = self.clock()
        if now - self.last < self.seconds:
            return False
        self.refresh()
        self.last = now
        return True
