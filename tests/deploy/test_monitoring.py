"""Alert rules, dashboards and the autoscaler's query parse as PromQL (promql-parser, the Rust parser Prometheus'
own grammar was ported to; it type-checks too) and use only metrics services/runtime/metrics.py defines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.deploy.manifests import K8S, by_name, exposed_metric_names, generated_configmaps, kustomization, \
    metric_names, of_kind

DASHBOARDS = sorted((K8S / "dashboards").glob("*.json"))


def _rules() -> list[dict]:
    (rule,) = of_kind("PrometheusRule")
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def test_metric_names_come_from_the_runtime() -> None:
    names = exposed_metric_names()
    assert {"baoxue_consumer_lag_messages", "baoxue_http_requests_total", "baoxue_http_request_seconds_bucket",
            "baoxue_dead_lettered_total"} <= names
    assert metric_names('sum(rate(baoxue_http_requests_total{status=~"5.."}[5m])) / sum(up)') == \
        {"baoxue_http_requests_total", "up"}
    with pytest.raises(ValueError):
        metric_names("sum(rate(baoxue_http_requests_total[5m])")  # unclosed parenthesis
    with pytest.raises(ValueError):
        metric_names("baoxue_relay_lag_events[5m] > 1")  # a range vector cannot be compared


@pytest.mark.parametrize("rule", _rules(), ids=lambda r: r["alert"])
def test_alert_parses_and_uses_existing_metrics(rule: dict) -> None:
    used = metric_names(rule["expr"])
    assert used and used <= exposed_metric_names(), used - exposed_metric_names()
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_alerts_cover_the_pipeline_schedulers_and_dependencies() -> None:
    used_by = {r["alert"]: metric_names(r["expr"]) for r in _rules()}
    for metric in ("baoxue_consumer_lag_messages", "baoxue_relay_lag_events", "baoxue_dead_lettered_total",
                   "baoxue_day_closes_overdue", "baoxue_scheduler_last_tick_timestamp_seconds",
                   "baoxue_http_requests_total", "baoxue_dependency_up"):
        assert any(metric in used for used in used_by.values()), metric
    dependency_rules = " ".join(r["expr"] for r in _rules() if "baoxue_dependency_up" in r["expr"])
    assert 'dependency="database"' in dependency_rules and 'dependency="broker"' in dependency_rules
    # a hole in a partition (events the relay stored as published, missing from the broker) stalls the partition's
    # consumers silently but for this: the messages they pass over after it
    assert any('outcome="stray"' in r["expr"] for r in _rules())


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_panels_parse_and_use_existing_metrics(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    assert dashboard["uid"].startswith("baoxue-") and dashboard["title"] and dashboard["panels"]
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used = metric_names(target["expr"])
            assert used and used <= exposed_metric_names(), (panel["title"], used - exposed_metric_names())


def test_dashboards_are_loaded_by_the_grafana_sidecar() -> None:
    assert {p.stem for p in DASHBOARDS} == {"service-health", "pipeline-lag", "business"}
    (generated,) = generated_configmaps()
    assert generated["metadata"]["labels"] == {"grafana_dashboard": "1"}
    assert sorted(generated["data"]) == sorted(p.name for p in DASHBOARDS)
    assert "configMapGenerator" in kustomization()


def test_business_dashboard_shows_checkins_open_cases_and_overdue_deadlines() -> None:
    dashboard = json.loads((K8S / "dashboards" / "business.json").read_text(encoding="utf-8"))
    used = set().union(*(metric_names(t["expr"]) for p in dashboard["panels"] for t in p["targets"]))
    assert {"baoxue_checkins_recorded_total", "baoxue_cases_open", "baoxue_case_deadlines_overdue"} <= used


def test_autoscaler_queries_parse_and_use_consumer_lag() -> None:
    for name, scaled in by_name("ScaledObject").items():
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["type"] == "prometheus"
        assert metric_names(trigger["metadata"]["query"]) == {"baoxue_consumer_lag_messages"}, name


def test_every_process_is_scraped() -> None:
    (monitor,) = of_kind("PodMonitor")
    ports = {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]}
    for d in of_kind("Deployment"):
        pod = d["spec"]["template"]
        assert all(pod["metadata"]["labels"].get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
        assert {p["name"] for p in pod["spec"]["containers"][0]["ports"]} <= ports


def test_every_metric_the_alerts_and_dashboards_watch_is_set_somewhere() -> None:
    """A metric defined but never set would keep its alert silent and its panel empty for ever: each one the
    alerts, dashboards and autoscalers use is reached (``metrics.<attribute>``) by some module under services/."""
    from prometheus_client.metrics import MetricWrapperBase

    from services.runtime.metrics import Metrics
    from tests.deploy.manifests import ROOT

    attribute_of = {}
    for attribute, value in vars(Metrics("probe")).items():
        if isinstance(value, MetricWrapperBase):
            for family in value.collect():
                for suffix in ("", "_total", "_bucket", "_sum", "_count"):
                    attribute_of[family.name + suffix] = attribute
    used = {name for r in _rules() for name in metric_names(r["expr"])}
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        used |= {n for p in dashboard["panels"] for t in p["targets"] for n in metric_names(t["expr"])}
    for scaled in by_name("ScaledObject").values():
        used |= metric_names(scaled["spec"]["triggers"][0]["metadata"]["query"])
    used.discard("up")  # Prometheus' own
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "services").rglob("*.py")
                       if "tests" not in p.parts)
    unset = sorted(name for name in used if f"metrics.{attribute_of[name]}" not in source)
    assert unset == []
