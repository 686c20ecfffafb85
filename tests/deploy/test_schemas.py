"""deploy/k8s validated offline against the Kubernetes and CRD schemas (the kubernetes-models npm packages for
Kubernetes, Strimzi, CloudNativePG, prometheus-operator and KEDA; kubernetes-validate --strict for unknown fields
of the Kubernetes kinds). Those JSON Schema validators let unknown fields through, so validate.mjs also walks every
object against its model's type declaration (TypeScript compiler API): a field the CRD's schema does not declare is
an error. `make deploy-validators` installs the npm side (make test does)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from tests.deploy.manifests import VALIDATE, documents

# CRDs no registry package carries a schema of: checked by the structural tests instead
WITHOUT_SCHEMA = {("barmancloud.cnpg.io/v1", "ObjectStore")}


def _node_results(docs: list[dict]) -> list[dict]:
    node = shutil.which("node")
    if node is None or not (VALIDATE / "node_modules" / "kubernetes-models").exists():
        if os.environ.get("CI"):
            pytest.fail("schema validators missing: run `make deploy-validators` (npm ci in deploy/validate)")
        pytest.skip("schema validators not installed (make deploy-validators)")
    proc = subprocess.run([node, "validate.mjs"], cwd=VALIDATE, input=json.dumps(docs), capture_output=True,
                          text=True, timeout=120, check=True)
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_every_object_matches_its_schema() -> None:
    docs = documents()
    results = _node_results(docs)
    assert len(results) == len(docs)
    failures = [r for r in results if r["error"] and (r["apiVersion"], r["kind"]) not in WITHOUT_SCHEMA]
    assert failures == []
    checked = {(r["apiVersion"], r["kind"]) for r in results if r["schema"]}
    strict = {(r["apiVersion"], r["kind"]) for r in results if r["strict"]}
    assert checked == strict  # every kind with a schema is also walked for unknown fields
    for kind in [("apps/v1", "Deployment"), ("networking.k8s.io/v1", "Ingress"), ("kafka.strimzi.io/v1", "Kafka"), ("kafka.strimzi.io/v1", "KafkaTopic"),
                 ("kafka.strimzi.io/v1", "KafkaNodePool"), ("postgresql.cnpg.io/v1", "Cluster"),
                 ("postgresql.cnpg.io/v1", "Pooler"), ("postgresql.cnpg.io/v1", "ScheduledBackup"),
                 ("monitoring.coreos.com/v1", "PrometheusRule"), ("keda.sh/v1alpha1", "ScaledObject"),
                 ("policy/v1", "PodDisruptionBudget"), ("networking.k8s.io/v1", "NetworkPolicy")]:
        assert kind in checked, kind


def test_the_validator_refuses_what_the_cluster_would() -> None:
    """The schemas bite: a string partition count, a removed Strimzi API and a bad pool mode are refused."""
    docs = {d["kind"]: d for d in documents()}
    topic, pooler, kafka = docs["KafkaTopic"], docs["Pooler"], docs["Kafka"]
    topic["spec"]["partitions"] = "24"
    pooler["spec"]["pgbouncer"]["poolMode"] = "sessions"
    kafka["apiVersion"] = "kafka.strimzi.io/v1beta3"
    results = _node_results([topic, pooler, kafka])
    assert "partitions must be integer" in results[0]["error"]
    assert "poolMode" in results[1]["error"]
    assert results[2]["schema"] is False


def test_kubernetes_kinds_have_no_unknown_fields() -> None:
    import kubernetes_validate

    core = [d for d in documents() if "." not in d["apiVersion"].split("/")[0] or ".k8s.io/" in d["apiVersion"]]
    assert {d["kind"] for d in core} >= {"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "ConfigMap"}
    errors = []
    for d in core:
        try:
            kubernetes_validate.validate(d, "1.33.0", strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{d['kind']}/{d['metadata']['name']}: {exc.message}")
    assert errors == []
    bad = next(d for d in documents() if d["kind"] == "Deployment")
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.33.0", strict=True)


# a misspelt field of each CRD kind, at the depth where such slips happen
MISSPELT = {
    "Kafka": (("spec", "kafka", "listeners", 0), "tsl"),
    "KafkaNodePool": (("spec",), "replica"),
    "KafkaTopic": (("spec",), "partition"),
    "Cluster": (("spec",), "instance"),
    "Pooler": (("spec", "pgbouncer"), "poolmode"),
    "ScheduledBackup": (("spec",), "schedual"),
    "PrometheusRule": (("spec", "groups", 0, "rules", 0), "expression"),
    "PodMonitor": (("spec", "podMetricsEndpoints", 0), "intervall"),
    "ScaledObject": (("spec", "triggers", 0), "typ"),
}


def _misspelt(kind: str) -> dict:
    doc = next(d for d in documents() if d["kind"] == kind)
    path, field = MISSPELT[kind]
    node = doc
    for step in path:
        node = node[step]
    node[field] = 1
    return doc


@pytest.fixture(scope="module")
def misspelt_results() -> dict[str, dict]:
    """One validator run for every kind's misspelt copy (the TypeScript checker takes seconds to start)."""
    kinds = sorted(MISSPELT)
    return dict(zip(kinds, _node_results([_misspelt(k) for k in kinds])))


@pytest.mark.parametrize("kind", sorted(MISSPELT))
def test_a_misspelt_field_of_a_crd_kind_is_refused(kind: str, misspelt_results: dict[str, dict]) -> None:
    result = misspelt_results[kind]
    path, field = MISSPELT[kind]
    assert result["schema"] and result["strict"], result
    dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path) + f".{field}"
    assert result["unknown"] == [dotted], result
    assert "unknown fields" in result["error"]


def test_open_maps_stay_open() -> None:
    """What the schemas leave open is not refused: labels, a topic's Kafka config, a trigger's metadata."""
    topic = next(d for d in documents() if d["kind"] == "KafkaTopic")
    topic["metadata"]["labels"]["team"] = "ops"
    topic["spec"]["config"]["segment.bytes"] = 1073741824
    scaled = next(d for d in documents() if d["kind"] == "ScaledObject")
    scaled["spec"]["triggers"][0]["metadata"]["ignoreNullValues"] = "true"
    assert [r["error"] for r in _node_results([topic, scaled])] == [None, None]
