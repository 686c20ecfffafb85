"""Renders the generated part of deploy/k8s from the catalog (each bootstrap's ROLES), the runtime's port tables and
contracts.topics, so a new process role or topic cannot be forgotten in the cluster manifests.

    python -m devstack.k8s            # rewrite deploy/k8s/{services,migrate,topics,autoscaling,networkpolicies,ingress}.yaml
    python -m devstack.k8s --check    # exit 1 if a committed file differs (tests/deploy does the same)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts import topics
from devstack.catalog import SERVICES, role_kind, service_roles
from services.runtime.settings import SERVICE_PORTS, WORKER_METRICS_PORTS

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
IMAGE = "baoxue:0.1.0"
PARTITIONS = 24  # BAOXUE_KAFKA_PARTITIONS in config.yaml; a topic's count is fixed for its life
REPLICATION = 3  # BAOXUE_KAFKA_REPLICATION_FACTOR; min.insync.replicas 2 with acks=all
UID = 10001
DATA_DIR = "/var/lib/baoxue"
KEK_DIR = "/etc/baoxue/kek"
PROMETHEUS = "http://prometheus-operated.monitoring.svc:9090"
PART_OF = {"app.kubernetes.io/part-of": "baoxue"}
KAFKA_CLIENT = {"baoxue/kafka-client": "true"}  # the Kafka listener admits only pods with this label
POOLER = "baoxue-db-pooler-rw"
# Ingress: one host per API under DOMAIN, TLS from the Secret TLS_SECRET (a certificate for every host, e.g. a
# wildcard; created out of band, or by cert-manager when CERT_ISSUER names a ClusterIssuer)
DOMAIN = "baoxue.edu.example.cn"
TLS_SECRET = "baoxue-tls"
CERT_ISSUER: str | None = None
INGRESS_CLASS = "nginx"
INGRESS_CONTROLLER = {"namespace": "ingress-nginx", "pods": {"app.kubernetes.io/name": "ingress-nginx"}}
# the public routes only (services/*/roles.py): /v1 for every API, the pages under /ui, reporting's "/" redirect;
# /metrics, /healthz, /readyz, /docs and /openapi.json stay inside the cluster
PUBLIC_PATHS = {"registry": [("/v1", "Prefix")], "attendance": [("/v1", "Prefix")],
                "casework": [("/v1", "Prefix"), ("/ui", "Prefix")], "notifications": [("/v1", "Prefix")],
                "reporting": [("/v1", "Prefix"), ("/ui", "Prefix"), ("/", "Exact")]}
BODY_LIMITS = {"registry": "64m", "attendance": "16m", "casework": "10m"}  # imports; 10,000-row check-ins; photos


@dataclass(frozen=True)
class Plan:
    """How one kind of process runs on the cluster."""

    replicas: int
    cpu: str
    memory: str
    memory_limit: str
    kafka: bool  # talks to the broker
    max_replicas: int = 0  # > 0: autoscaled on consumer lag (KEDA), replicas left to the autoscaler


PLANS = {
    # APIs never produce to Kafka (the relays do) and their /readyz checks only the database
    "api": Plan(3, "250m", "256Mi", "1Gi", kafka=False),
    # both replicas publish, each its leased half of the 24 partitions (relay shards); a dead one's move within seconds
    "relay": Plan(2, "250m", "256Mi", "1Gi", kafka=True),
    # replicas share the 24 partitions; 8 replicas hold 3 partitions each
    "consumer": Plan(2, "500m", "384Mi", "1Gi", kafka=True, max_replicas=8),
    # every tick is claimed by one replica (runtime/scheduling.py), the other stands by
    "scheduler": Plan(2, "100m", "256Mi", "1Gi", kafka=False),
}
LAG_THRESHOLD = 5000  # messages behind per consumer replica before KEDA adds one
SECRETS: dict[str, list[tuple[str, str, str]]] = {  # service -> (env var, secret, key); "*" for every service
    "*": [("BAOXUE_CIPHER_KEY", "baoxue-secrets", "cipher-key")],
    "registry": [("BAOXUE_PSEUDONYM_KEY", "baoxue-registry", "pseudonym-key")],
    # the outbox channel's providers (SMS by the Tencent Cloud SDK, 企业微信/钉钉 robots, e-mail): a province uses
    # the ones it has, so every key is optional (a channel without its settings is off)
    "notifications": [("BAOXUE_SMS_SECRET_ID", "baoxue-notifications", "sms-secret-id"),
                      ("BAOXUE_SMS_SECRET_KEY", "baoxue-notifications", "sms-secret-key"),
                      ("BAOXUE_SMS_CALLBACK_TOKEN", "baoxue-notifications", "sms-callback-token"),
                      ("BAOXUE_WECOM_WEBHOOK_URL", "baoxue-notifications", "wecom-webhook-url"),
                      ("BAOXUE_DINGTALK_WEBHOOK_URL", "baoxue-notifications", "dingtalk-webhook-url"),
                      ("BAOXUE_DINGTALK_SECRET", "baoxue-notifications", "dingtalk-secret"),
                      ("BAOXUE_SMTP_PASSWORD", "baoxue-notifications", "smtp-password")],
}
OPTIONAL_SECRETS = {name for name, _, _ in SECRETS["notifications"]}
# OIDC provider's JWKS; the providers the notifications delivery worker (its scheduler role) sends through
EXTERNAL_HTTPS = {("*", "api"), ("notifications", "scheduler")}


def processes() -> list[tuple[str, str]]:
    """Every (service, role) the bootstraps declare, in catalog order."""
    return [(service, role) for service in SERVICES for role in service_roles(service)]


def port_of(service: str, role: str) -> tuple[str, int]:
    """The named port a process serves: the API's HTTP port, or a worker's /metrics port."""
    return ("http", SERVICE_PORTS[service]) if role == "api" else ("metrics", WORKER_METRICS_PORTS[(service, role)])


def labels(service: str, role: str) -> dict[str, str]:
    return {"baoxue/service": service, "baoxue/role": role}


def pod_labels(service: str, role: str) -> dict[str, str]:
    return {**PART_OF, **labels(service, role), **(KAFKA_CLIENT if PLANS[role_kind(role)].kafka else {})}


def env(service: str) -> list[dict[str, Any]]:
    """Database credentials and secrets by reference only; the URL points at the PgBouncer pooler."""
    items: list[dict[str, Any]] = [
        {"name": "BAOXUE_DB_USER", "valueFrom": {"secretKeyRef": {"name": "baoxue-db-app", "key": "username"}}},
        {"name": "BAOXUE_DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "baoxue-db-app", "key": "password"}}},
        {"name": "BAOXUE_DATABASE_URL",
         "value": f"postgresql://$(BAOXUE_DB_USER):$(BAOXUE_DB_PASSWORD)@{POOLER}:5432/baoxue"},
    ]
    for name, secret, key in SECRETS["*"] + SECRETS.get(service, []):
        ref = {"name": secret, "key": key, **({"optional": True} if name in OPTIONAL_SECRETS else {})}
        items.append({"name": name, "valueFrom": {"secretKeyRef": ref}})
    if service == "registry":
        items.append({"name": "BAOXUE_KEY_FILE", "value": f"{KEK_DIR}/kek.json"})
    return items


def probes(role: str, port: str) -> dict[str, Any]:
    """APIs: /healthz alive, /readyz ready. Workers: their metrics server answers while the process lives."""
    alive = "/healthz" if role == "api" else "/metrics"
    ready = "/readyz" if role == "api" else "/metrics"
    return {
        # build_runtime waits up to 60 s for PostgreSQL before anything listens
        "startupProbe": {"httpGet": {"path": alive, "port": port}, "periodSeconds": 5, "failureThreshold": 30},
        "readinessProbe": {"httpGet": {"path": ready, "port": port}, "periodSeconds": 10, "timeoutSeconds": 5,
                           "failureThreshold": 3},
        "livenessProbe": {"httpGet": {"path": alive, "port": port}, "periodSeconds": 20, "timeoutSeconds": 5,
                          "failureThreshold": 3},
    }


def deployment(service: str, role: str) -> dict[str, Any]:
    plan = PLANS[role_kind(role)]
    port_name, port = port_of(service, role)
    mounts = [{"name": "tmp", "mountPath": "/tmp"}, {"name": "data", "mountPath": DATA_DIR}]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                                     {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}]
    if service == "registry":
        mounts.append({"name": "kek", "mountPath": KEK_DIR, "readOnly": True})
        volumes.append({"name": "kek", "secret": {"secretName": "baoxue-registry-kek", "defaultMode": 0o400}})
    container = {
        "name": role,
        "image": IMAGE,
        "args": ["run", service, role],
        "ports": [{"name": port_name, "containerPort": port}],
        "envFrom": [{"configMapRef": {"name": "baoxue-config"}}],
        "env": env(service),
        "resources": {"requests": {"cpu": plan.cpu, "memory": plan.memory}, "limits": {"memory": plan.memory_limit}},
        **probes(role, port_name),
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "privileged": False,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": mounts,
    }
    spec: dict[str, Any] = {} if plan.max_replicas else {"replicas": plan.replicas}
    spec.update({
        "selector": {"matchLabels": labels(service, role)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {
            "metadata": {"labels": pod_labels(service, role)},
            "spec": {
                "automountServiceAccountToken": False,
                "terminationGracePeriodSeconds": 30,
                "securityContext": {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "fsGroup": UID,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                               "whenUnsatisfiable": "ScheduleAnyway",
                                               "labelSelector": {"matchLabels": labels(service, role)}}],
                "containers": [container],
                "volumes": volumes,
            },
        },
    })
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": f"{service}-{role}", "labels": {**PART_OF, **labels(service, role)}}, "spec": spec}


def migrate_job(service: str) -> dict[str, Any]:
    """The service's migrate Job (``baoxue run <service> migrate``): applied with the new image, it brings the
    schema to the code's head; the new pods wait for that version before they are ready (services/runtime/README.md,
    *Schema migrations*). Deleted 10 minutes after it finished, so the next ``kubectl apply`` creates it anew."""
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    container = {
        "name": "migrate", "image": IMAGE, "args": ["run", service, "migrate"],
        "envFrom": [{"configMapRef": {"name": "baoxue-config"}}], "env": env(service),
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "privileged": False,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": mounts,
    }
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": f"{service}-migrate", "labels": {**PART_OF, **labels(service, "migrate")}},
            "spec": {"backoffLimit": 6, "ttlSecondsAfterFinished": 600, "template": {
                "metadata": {"labels": {**PART_OF, **labels(service, "migrate")}},
                "spec": {"restartPolicy": "OnFailure", "automountServiceAccountToken": False,
                         "securityContext": {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID,
                                             "fsGroup": UID, "seccompProfile": {"type": "RuntimeDefault"}},
                         "containers": [container],
                         "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]}}}}


def pdb(service: str, role: str) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": f"{service}-{role}", "labels": {**PART_OF, **labels(service, role)}},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels(service, role)}}}


def api_service(service: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": service, "labels": {**PART_OF}},
            "spec": {"selector": labels(service, "api"), "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}


def host(service: str) -> str:
    return f"{service}.{DOMAIN}"


def ingress(service: str, cert_issuer: str | None = None) -> dict[str, Any]:
    """The public routes of one API on its own host, TLS terminated by the controller with ``TLS_SECRET``."""
    annotations = {"nginx.ingress.kubernetes.io/ssl-redirect": "true",
                   "nginx.ingress.kubernetes.io/proxy-body-size": BODY_LIMITS.get(service, "1m")}
    if cert_issuer:
        annotations["cert-manager.io/cluster-issuer"] = cert_issuer
    backend = {"service": {"name": service, "port": {"name": "http"}}}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": service, "labels": {**PART_OF, **labels(service, "api")}, "annotations": annotations},
            "spec": {"ingressClassName": INGRESS_CLASS,
                     "tls": [{"hosts": [host(service)], "secretName": TLS_SECRET}],
                     "rules": [{"host": host(service), "http": {"paths": [
                         {"path": path, "pathType": kind, "backend": backend}
                         for path, kind in PUBLIC_PATHS[service]]}}]}}


def scaled_object(service: str, role: str) -> dict[str, Any]:
    """Consumers scale on their lag as they report it (they commit no Kafka offsets, so KEDA's Kafka scaler cannot
    see it): the sum over partitions, each counted once however many replicas still export it."""
    plan = PLANS[role_kind(role)]
    query = (f'sum(max by (topic, partition) (baoxue_consumer_lag_messages{{namespace="baoxue", '
             f'service="{service}", consumer="{service}"}}))')
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": {"name": f"{service}-{role}", "labels": {**PART_OF, **labels(service, role)}},
            "spec": {"scaleTargetRef": {"name": f"{service}-{role}"},
                     "minReplicaCount": plan.replicas, "maxReplicaCount": plan.max_replicas,
                     "pollingInterval": 15, "cooldownPeriod": 300,
                     "triggers": [{"type": "prometheus", "metadata": {
                         "serverAddress": PROMETHEUS, "query": query, "threshold": str(LAG_THRESHOLD)}}]}}


def kafka_topic(name: str, retention_ms: int) -> dict[str, Any]:
    return {"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaTopic",
            "metadata": {"name": name, "labels": {"strimzi.io/cluster": "baoxue", **PART_OF}},
            "spec": {"topicName": name, "partitions": PARTITIONS, "replicas": REPLICATION,
                     "config": {"min.insync.replicas": 2, "retention.ms": retention_ms, "cleanup.policy": "delete"}}}


def topic_names() -> tuple[list[str], list[str]]:
    """The topics of services that publish (they have a relay) and the dead-letter topic of every consumer (each
    service's consumer is named after the service)."""
    published = [t for t in topics.ALL
                 if any(role_kind(r) == "relay" for r in service_roles(topics.publisher(t)))]
    dead = [topics.dead_letter(s) for s in SERVICES if "consumer" in service_roles(s)]
    return published, dead


def network_policies() -> list[dict[str, Any]]:
    """Default deny for the app pods; each process may reach DNS, the pooler and (if it needs it) Kafka, and be
    reached on its port by Prometheus and, APIs only, by the ingress controller's pods."""
    def policy(name: str, selector: dict[str, str], ingress: list | None, egress: list | None) -> dict[str, Any]:
        spec: dict[str, Any] = {"podSelector": {"matchLabels": selector}, "policyTypes": []}
        if ingress is not None:
            spec["policyTypes"].append("Ingress")
            spec["ingress"] = ingress
        if egress is not None:
            spec["policyTypes"].append("Egress")
            spec["egress"] = egress
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": name, "labels": {**PART_OF}}, "spec": spec}

    def ns(name: str) -> dict[str, Any]:
        return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}

    dns = {"to": [{**ns("kube-system"), "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
           "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
    pooler = {"to": [{"podSelector": {"matchLabels": {"cnpg.io/poolerName": POOLER}}}],
              "ports": [{"protocol": "TCP", "port": 5432}]}
    kafka = {"to": [{"podSelector": {"matchLabels": {"strimzi.io/cluster": "baoxue", "strimzi.io/kind": "Kafka"}}}],
             "ports": [{"protocol": "TCP", "port": 9092}]}
    https = {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}],
             "ports": [{"protocol": "TCP", "port": 443}]}
    out = [policy("default-deny", PART_OF, [], [])]
    for service, role in processes():
        port_name, _ = port_of(service, role)
        controller = {**ns(INGRESS_CONTROLLER["namespace"]), "podSelector": {"matchLabels": INGRESS_CONTROLLER["pods"]}}
        sources = [ns("monitoring")] + ([controller] if role == "api" else [])
        egress = [dns, pooler] + ([kafka] if PLANS[role_kind(role)].kafka else [])
        if ("*", role) in EXTERNAL_HTTPS or (service, role) in EXTERNAL_HTTPS:
            egress.append(https)
        out.append(policy(f"{service}-{role}", labels(service, role),
                          [{"from": sources, "ports": [{"protocol": "TCP", "port": port_name}]}], egress))
    for service in SERVICES:  # migrate Jobs reach DNS and the pooler only, and are reached by nothing
        out.append(policy(f"{service}-migrate", labels(service, "migrate"), [], [dns, pooler]))
    # the pooler takes connections from the app pods only (and is scraped); the operator manages it
    out.append(policy(POOLER, {"cnpg.io/poolerName": POOLER}, [
        {"from": [{"podSelector": {"matchLabels": PART_OF}}], "ports": [{"protocol": "TCP", "port": 5432}]},
        {"from": [ns("monitoring")], "ports": [{"protocol": "TCP", "port": 9127}]},
        {"from": [ns("cnpg-system")]},
    ], None))
    out.append(policy("baoxue-db", {"cnpg.io/cluster": "baoxue-db"}, [
        {"from": [{"podSelector": {"matchLabels": {"cnpg.io/poolerName": POOLER}}},
                  {"podSelector": {"matchLabels": {"cnpg.io/cluster": "baoxue-db"}}}],
         "ports": [{"protocol": "TCP", "port": 5432}]},
        {"from": [ns("monitoring")], "ports": [{"protocol": "TCP", "port": 9187}]},
        {"from": [ns("cnpg-system")]},
    ], None))
    return out


def render() -> dict[str, str]:
    """File name -> content of every generated manifest."""
    import yaml

    def dump(header: str, docs: list[dict[str, Any]]) -> str:
        body = "".join("---\n" + yaml.safe_dump(d, sort_keys=False, width=120, allow_unicode=True) for d in docs)
        return f"# GENERATED by `python -m devstack.k8s` ({header}); edit devstack/k8s.py, not this file.\n{body}"

    procs = processes()
    workloads: list[dict[str, Any]] = []
    for service in SERVICES:
        for s, role in procs:
            if s == service:
                workloads += [deployment(service, role), pdb(service, role)]
        if "api" in service_roles(service):
            workloads.append(api_service(service))
    published, dead = topic_names()
    return {
        "services.yaml": dump("one Deployment and PodDisruptionBudget per process of services/*/bootstrap.py ROLES",
                              workloads),
        "migrate.yaml": dump("one migrate Job per service: its schema to the code's head before the pods are ready",
                             [migrate_job(service) for service in SERVICES]),
        "topics.yaml": dump("every topic a relay publishes, every consumer's dead-letter topic",
                            [kafka_topic(t, -1) for t in published]
                            + [kafka_topic(t, 90 * 24 * 3600 * 1000) for t in dead]),
        "autoscaling.yaml": dump("consumers scale on their lag", [
            scaled_object(s, r) for s, r in procs if PLANS[role_kind(r)].max_replicas]),
        "networkpolicies.yaml": dump("who may talk to whom", network_policies()),
        "ingress.yaml": dump("the public routes of every API, one host each, TLS from a Secret", [
            ingress(s, CERT_ISSUER) for s in SERVICES if "api" in service_roles(s)]),
    }


def main(argv: list[str]) -> int:
    stale = []
    for name, text in render().items():
        path = K8S / name
        if "--check" in argv:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"deploy/k8s out of date: {', '.join(stale)} (run: python -m devstack.k8s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
