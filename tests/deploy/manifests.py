"""What `kubectl apply -k deploy/k8s` would apply, read without kustomize: each resource file's documents with the
namespace set, plus the ConfigMaps of the configMapGenerator; and the metric names services/runtime/metrics.py
defines, as Prometheus exposes them."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from services.runtime.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
VALIDATE = ROOT / "deploy" / "validate"


@cache
def kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))


def generated_configmaps() -> list[dict[str, Any]]:
    out = []
    for gen in kustomization().get("configMapGenerator", []):
        options = gen.get("options", {})
        data = {Path(f).name: (K8S / f).read_text(encoding="utf-8") for f in gen.get("files", [])}
        out.append({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": gen["name"], "labels": options.get("labels", {}),
                                 "annotations": options.get("annotations", {})},
                    "data": data})
    return out


@cache
def _documents() -> tuple[str, ...]:
    k = kustomization()
    docs = []
    for name in k["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / name).read_text(encoding="utf-8")) if d]
    docs += generated_configmaps()
    for d in docs:
        if d["kind"] != "Namespace":
            d["metadata"]["namespace"] = k["namespace"]
    return tuple(json.dumps(d) for d in docs)


def documents() -> list[dict[str, Any]]:
    """Fresh copies of every object, so a test may change its own."""
    return [json.loads(d) for d in _documents()]


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in documents() if d["kind"] == kind]


def by_name(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in of_kind(kind)}


def config() -> dict[str, str]:
    return by_name("ConfigMap")["baoxue-config"]["data"]


@cache
def exposed_metric_names() -> frozenset[str]:
    """Every series name a Baoxue process may expose (counters with _total, histograms with _bucket/_sum/_count)."""
    names = set()
    for family in Metrics("probe").registry.collect():
        n = family.name
        names |= {"counter": {f"{n}_total", f"{n}_created"}, "gauge": {n},
                  "histogram": {f"{n}_bucket", f"{n}_sum", f"{n}_count", f"{n}_created"}}.get(family.type, {n})
    return frozenset(names)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects; raises ValueError if it does not parse or type-check."""
    import promql_parser

    found: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found
