"""baoxue_dependency_up as a real process sets it: an API from its /readyz (the database only: APIs never produce
to Kafka), a relay from its background watch (database and broker), each 0 when the dependency is not there."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.runtime.bootstrap import base_app, build_runtime
from services.runtime.infra import free_port
from services.runtime.metrics import DependencyWatch, Every, Metrics
from services.runtime.settings import ServiceSettings

pytestmark = pytest.mark.integration


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_the_api_is_ready_without_a_broker_and_says_so_in_its_metrics(database_url):
    dead_broker = f"127.0.0.1:{free_port()}"  # nothing listens: an API must not care
    runtime = build_runtime("registry", "api", ServiceSettings(database_url=database_url, env="test",
                                                              kafka_bootstrap=dead_broker))
    try:
        assert runtime.watch is None  # an API answers on /readyz instead of a thread of its own
        with TestClient(base_app(runtime, title="t", description="d")) as client:
            r = client.get("/readyz")
            assert r.status_code == 200 and r.json()["checks"] == {"database": True}
            text = client.get("/metrics").text
        assert 'baoxue_dependency_up{dependency="database",role="api",service="registry"} 1.0' in text
        assert 'dependency="broker"' not in text
        runtime.db.close()  # the pool gone: the next probe finds no database
        with TestClient(base_app(runtime, title="t", description="d")) as client:
            r = client.get("/readyz")
        assert r.status_code == 503 and r.json()["checks"] == {"database": False}
        assert sample(runtime.metrics, "baoxue_dependency_up", service="registry", role="api",
                      dependency="database") == 0
    finally:
        runtime.close()


def test_a_relay_watches_database_and_broker_in_the_background(database_url, kafka_bootstrap):
    runtime = build_runtime("registry", "relay", ServiceSettings(database_url=database_url, env="test",
                                                                kafka_bootstrap=kafka_bootstrap))
    try:
        assert runtime.watch is not None
        assert runtime.watch.check_once() == {"database": True, "broker": True}
        for dependency in ("database", "broker"):
            assert sample(runtime.metrics, "baoxue_dependency_up", service="registry", role="relay",
                          dependency=dependency) == 1
    finally:
        runtime.close()


def test_a_scheduler_watches_only_the_database_and_a_lost_broker_reads_0(database_url):
    runtime = build_runtime("registry", "scheduler", ServiceSettings(database_url=database_url, env="test"))
    try:
        assert runtime.watch is not None and runtime.watch.check_once() == {"database": True}
    finally:
        runtime.close()
    metrics = Metrics("probe")
    watch = DependencyWatch(metrics, "consumer", {"broker": _unreachable_broker()}, interval_s=60)
    assert watch.check_once() == {"broker": False}
    assert sample(metrics, "baoxue_dependency_up", service="probe", role="consumer", dependency="broker") == 0


def _unreachable_broker():
    from services.runtime.web import broker_reachable

    return broker_reachable(f"127.0.0.1:{free_port()}")


def test_every_runs_a_refresh_at_most_once_per_period_and_retries_a_failed_one():
    now = [0.0]
    calls: list[float] = []
    fail = [True]

    def refresh() -> None:
        calls.append(now[0])
        if fail[0]:
            raise RuntimeError("database away")

    every = Every(30, refresh, clock=lambda: now[0])
    with pytest.raises(RuntimeError):
        every()
    fail[0] = False
    now[0] = 1
    assert every() is True  # the failed refresh did not count
    now[0] = 20
    assert every() is False
    now[0] = 31
    assert every() is True
    assert calls == [0, 1, 31]
