"""The cluster manifests keep the platform's rules: every process of every bootstrap runs with more than one
replica, probes, resources and a locked-down security context; secrets come only by reference; each process may
talk only to what it needs; topics, Kafka and PostgreSQL are declared the way the runtime expects."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest

from contracts import topics
from devstack import k8s
from devstack.catalog import SERVICES, role_kind, service_roles
from services.runtime.settings import SERVICE_PORTS, WORKER_METRICS_PORTS
from tests.deploy.manifests import by_name, config, documents, of_kind

PROCESSES = [(s, r) for s in SERVICES for r in service_roles(s)]
SECRET_NAME = re.compile(r"KEY|SECRET|PASSWORD|TOKEN|CREDENTIAL", re.I)


def test_generated_manifests_are_current() -> None:
    for name, text in k8s.render().items():
        assert (k8s.K8S / name).read_text(encoding="utf-8") == text, f"{name}: run python -m devstack.k8s"


def test_kustomization_applies_every_manifest() -> None:
    from tests.deploy.manifests import kustomization

    files = {p.name for p in k8s.K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization()["resources"]) == sorted(files)
    assert set(k8s.render()) <= files


def test_every_process_role_has_a_deployment() -> None:
    deployments = by_name("Deployment")
    assert sorted(deployments) == sorted(f"{s}-{r}" for s, r in PROCESSES)
    assert {"registry-scheduler", "reporting-scheduler"} <= set(deployments)
    for service, role in PROCESSES:
        container = deployments[f"{service}-{role}"]["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == ["run", service, role]


@pytest.mark.parametrize("service,role", PROCESSES)
def test_replicas_disruption_budget_and_autoscaling(service: str, role: str) -> None:
    name = f"{service}-{role}"
    deployment = by_name("Deployment")[name]
    scaled = by_name("ScaledObject").get(name)
    if scaled:
        assert "replicas" not in deployment["spec"]  # the autoscaler owns it
        assert scaled["spec"]["scaleTargetRef"]["name"] == name
        assert 1 < scaled["spec"]["minReplicaCount"] < scaled["spec"]["maxReplicaCount"] <= 24
        assert int(scaled["spec"]["triggers"][0]["metadata"]["threshold"]) > 0
    else:
        assert deployment["spec"]["replicas"] > 1
    assert (role == "consumer") == bool(scaled)
    budget = by_name("PodDisruptionBudget")[name]
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]
    assert budget["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("service,role", PROCESSES)
def test_probes_resources_and_security(service: str, role: str) -> None:
    pod = by_name("Deployment")[f"{service}-{role}"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    expected = SERVICE_PORTS[service] if role == "api" else WORKER_METRICS_PORTS[(service, role)]
    assert list(ports.values()) == [expected]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] in ports, probe
    if role == "api":
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    requests, limits = container["resources"]["requests"], container["resources"]["limits"]
    assert requests["cpu"] and requests["memory"] and limits["memory"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"] and not sc.get("privileged")
    assert pod["automountServiceAccountToken"] is False
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/tmp", config()["BAOXUE_DATA_DIR"]} <= mounted  # the only writable places


def test_secrets_only_by_reference() -> None:
    assert of_kind("Secret") == []
    for name, value in config().items():
        assert not SECRET_NAME.search(name), f"{name} belongs in a Secret"
    for d in of_kind("Deployment"):
        container = d["spec"]["template"]["spec"]["containers"][0]
        for source in container["envFrom"]:
            assert set(source) <= {"configMapRef", "secretRef"}
        pod = d["spec"]["template"]["spec"]
        secret_volumes = {v["name"] for v in pod["volumes"] if "secret" in v}
        secret_dirs = [m["mountPath"] for m in container["volumeMounts"] if m["name"] in secret_volumes]
        for var in container["env"]:
            if var["name"].endswith("_FILE"):  # a path to a file of a mounted Secret
                assert any(var["value"].startswith(f"{p}/") for p in secret_dirs), var["name"]
            elif "value" in var:
                assert not SECRET_NAME.search(var["name"]), f"{d['metadata']['name']}: {var['name']} set inline"
                assert "$(" in var["value"] or not SECRET_NAME.search(var["value"])
            else:
                assert set(var["valueFrom"]) == {"secretKeyRef"}, var["name"]
        for volume in pod["volumes"]:
            assert set(volume) - {"name"} <= {"emptyDir", "secret"}


def test_processes_connect_through_the_session_pooler() -> None:
    pooler = by_name("Pooler")["baoxue-db-pooler-rw"]
    assert pooler["spec"]["pgbouncer"]["poolMode"] == "session"  # advisory locks and LISTEN need a session
    assert pooler["spec"]["cluster"]["name"] in by_name("Cluster")
    for d in of_kind("Deployment"):
        env = {v["name"]: v for v in d["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert urlparse(env["BAOXUE_DATABASE_URL"]["value"].replace("$(", "").replace(")", "")).hostname == \
            pooler["metadata"]["name"]


def test_postgres_has_resources_and_backups() -> None:
    (cluster,) = of_kind("Cluster")
    assert cluster["spec"]["resources"]["requests"]["memory"] == cluster["spec"]["resources"]["limits"]["memory"]
    (plugin,) = cluster["spec"]["plugins"]
    assert plugin["isWALArchiver"] is True
    store = by_name("ObjectStore")[plugin["parameters"]["barmanObjectName"]]
    assert store["spec"]["configuration"]["destinationPath"].startswith("s3://")
    assert store["spec"]["retentionPolicy"]
    (backup,) = of_kind("ScheduledBackup")
    assert backup["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
    assert backup["spec"]["method"] == "plugin" and backup["spec"]["pluginConfiguration"]["name"] == plugin["name"]
    assert len(backup["spec"]["schedule"].split()) == 6


def test_kafka_is_strimzi_v1_with_node_pools() -> None:
    for d in documents():
        if d["apiVersion"].startswith("kafka.strimzi.io"):
            assert d["apiVersion"] == "kafka.strimzi.io/v1"
    (kafka,) = of_kind("Kafka")
    assert not kafka["metadata"].get("annotations")  # strimzi.io/kraft and node-pools are ignored since 0.48
    pools = of_kind("KafkaNodePool")
    assert {r for p in pools for r in p["spec"]["roles"]} == {"controller", "broker"}
    assert all(p["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"] for p in pools)
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    assert all(p["spec"]["resources"]["requests"] for p in pools)
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False
    isr = kafka["spec"]["kafka"]["config"]["min.insync.replicas"]
    assert int(config()["BAOXUE_KAFKA_REPLICATION_FACTOR"]) == 3 > isr and brokers >= 3
    host = config()["BAOXUE_KAFKA_BOOTSTRAP"].split(":")[0]
    assert host == f"{kafka['metadata']['name']}-kafka-bootstrap"


def test_every_topic_is_declared_with_its_partitions_and_replication() -> None:
    declared = {t["spec"]["topicName"]: t for t in of_kind("KafkaTopic")}
    published = [topics.REGISTRY, topics.ATTENDANCE, topics.CASEWORK, topics.NOTIFICATIONS, topics.REPORTING,
                 topics.INSPECTIONS]  # reporting's inspection store publishes on a topic of its own
    dead = [topics.dead_letter(c) for c in ("attendance", "casework", "notifications", "reporting")]
    assert sorted(declared) == sorted(published + dead)
    isr = of_kind("Kafka")[0]["spec"]["kafka"]["config"]["min.insync.replicas"]
    for name, topic in declared.items():
        assert topic["spec"]["partitions"] == int(config()["BAOXUE_KAFKA_PARTITIONS"]) == 24, name
        assert topic["spec"]["replicas"] == int(config()["BAOXUE_KAFKA_REPLICATION_FACTOR"]), name
        assert topic["spec"]["config"]["min.insync.replicas"] == isr < topic["spec"]["replicas"], name
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "baoxue"


def _selects(policy: dict, pod_labels: dict) -> bool:
    wanted = policy["spec"]["podSelector"].get("matchLabels", {})
    return all(pod_labels.get(k) == v for k, v in wanted.items())


@pytest.mark.parametrize("service,role", PROCESSES)
def test_network_policies_allow_only_what_a_process_needs(service: str, role: str) -> None:
    pod_labels = by_name("Deployment")[f"{service}-{role}"]["spec"]["template"]["metadata"]["labels"]
    policies = [p for p in of_kind("NetworkPolicy") if _selects(p, pod_labels)]
    assert any(p["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/part-of": "baoxue"}
               and p["spec"]["ingress"] == [] and p["spec"]["egress"] == [] for p in policies)  # default deny
    egress = [rule for p in policies for rule in p["spec"].get("egress", [])]
    targets = set()
    for rule in egress:
        for peer in rule["to"]:
            selector = peer.get("podSelector", {}).get("matchLabels", {})
            if "cnpg.io/poolerName" in selector:
                targets.add("pooler")
            elif selector.get("strimzi.io/kind") == "Kafka":
                targets.add("kafka")
            elif selector.get("k8s-app") == "kube-dns":
                targets.add("dns")
            elif "ipBlock" in peer:
                assert [p["port"] for p in rule["ports"]] == [443]
                targets.add("https")
            else:
                pytest.fail(f"unexpected egress peer {peer}")
    expected = {"dns", "pooler"} | ({"kafka"} if role_kind(role) in ("relay", "consumer") else set())  # APIs: no broker
    expected |= {"https"} if role == "api" or (service, role) == ("notifications", "scheduler") else set()
    assert targets == expected
    assert ("kafka" in targets) == (pod_labels.get("baoxue/kafka-client") == "true")  # admitted by the listener
    ingress = [rule for p in policies for rule in p["spec"].get("ingress", [])]
    namespaces = {peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                  for rule in ingress for peer in rule["from"]}
    assert namespaces == ({"monitoring", "ingress-nginx"} if role == "api" else {"monitoring"})
    assert all(len(rule["ports"]) == 1 for rule in ingress)
    for rule in ingress:  # from the controller's namespace only its own pods, never the whole namespace
        for peer in rule["from"]:
            if peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == "ingress-nginx":
                assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "ingress-nginx"}


def test_the_kafka_listener_admits_only_kafka_clients() -> None:
    (listener,) = of_kind("Kafka")[0]["spec"]["kafka"]["listeners"]
    assert listener["networkPolicyPeers"] == [{"podSelector": {"matchLabels": {"baoxue/kafka-client": "true"}}}]


@pytest.mark.parametrize("service,role", PROCESSES)
def test_production_settings_are_complete(service: str, role: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each process's settings, from the ConfigMap and its env (secrets as strong stand-ins), pass the service's
    own production checks: nothing the cluster must provide is missing."""
    import importlib
    import inspect

    from services.runtime.settings import ServiceSettings

    container = by_name("Deployment")[f"{service}-{role}"]["spec"]["template"]["spec"]["containers"][0]
    for name in list(__import__("os").environ):
        if name.startswith("BAOXUE_"):
            monkeypatch.delenv(name)
    for name, value in config().items():
        monkeypatch.setenv(name, value)
    for var in container["env"]:
        monkeypatch.setenv(var["name"], var.get("value") or "s3cr3t-" + "x" * 40)
    module = importlib.import_module(f"services.{service}.settings")
    (cls,) = [c for _, c in inspect.getmembers(module, inspect.isclass)
              if issubclass(c, ServiceSettings) and c.__module__ == module.__name__]
    settings = cls()
    assert settings.env == "production" and not settings.dev_tokens_enabled
    assert settings.kafka_partitions == 24


# -- Ingress -----------------------------------------------------------------------------------------------------

def _routes(service: str) -> set[str]:
    """The paths of a service's role matrix (the routes it serves besides the ops routes)."""
    import importlib

    matrix = importlib.import_module(f"services.{service}.roles").MATRIX
    return {key.split(" ", 1)[1] for key in matrix.rows}


def _exposes(paths: list[dict], route: str) -> bool:
    for p in paths:
        if p["pathType"] == "Exact" and route == p["path"]:
            return True
        if p["pathType"] == "Prefix" and (route == p["path"] or route.startswith(p["path"].rstrip("/") + "/")):
            return True
    return False


@pytest.mark.parametrize("service", [s for s in SERVICES if "api" in service_roles(s)])
def test_each_api_has_an_ingress_with_its_public_routes_only(service: str) -> None:
    ing = by_name("Ingress")[service]
    (rule,) = ing["spec"]["rules"]
    (tls,) = ing["spec"]["tls"]
    assert tls["hosts"] == [rule["host"]] and tls["secretName"] == k8s.TLS_SECRET  # by reference: no Secret here
    assert ing["spec"]["ingressClassName"] == "nginx"
    paths = rule["http"]["paths"]
    service_obj = by_name("Service")[service]
    for p in paths:
        assert p["backend"]["service"]["name"] == service
        assert p["backend"]["service"]["port"]["name"] in {port["name"] for port in service_obj["spec"]["ports"]}
    for route in ("/metrics", "/healthz", "/readyz", "/docs", "/openapi.json"):
        assert not _exposes(paths, route), route
    routes = _routes(service)
    assert routes and all(_exposes(paths, r) for r in routes), sorted(r for r in routes if not _exposes(paths, r))
    assert ing["metadata"]["annotations"]["nginx.ingress.kubernetes.io/ssl-redirect"] == "true"
    assert "cert-manager.io/cluster-issuer" not in ing["metadata"]["annotations"]  # optional, off by default


def test_bulk_check_ins_fit_through_the_ingress() -> None:
    """nginx refuses bodies above 1 MiB by default; 10,000 check-ins of ~150 bytes need more."""
    limit = by_name("Ingress")["attendance"]["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert int(limit.rstrip("m")) * 1024 * 1024 >= 10_000 * 200


def test_cert_manager_is_one_annotation_away() -> None:
    ing = k8s.ingress("reporting", cert_issuer="letsencrypt-prod")
    assert ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    assert ing["spec"]["tls"][0]["secretName"] == k8s.TLS_SECRET  # cert-manager writes the same Secret
