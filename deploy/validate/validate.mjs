// Validates Kubernetes objects (a JSON array on stdin) against the JSON Schemas the kubernetes-models packages
// ship: Kubernetes itself, Strimzi, CloudNativePG, prometheus-operator, KEDA. Prints one JSON line per object.
import { readFileSync } from "node:fs";

const GROUPS = {
  "kafka.strimzi.io": "@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io",
  "postgresql.cnpg.io": "@kubernetes-models/cloudnative-pg/postgresql.cnpg.io",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator/monitoring.coreos.com",
  "keda.sh": "@kubernetes-models/keda/keda.sh",
};

function modulePath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (!group) return `kubernetes-models/${version}/${kind}`;
  if (GROUPS[group]) return `${GROUPS[group]}/${version}/${kind}`;
  if (group.endsWith(".k8s.io") || !group.includes(".")) return `kubernetes-models/${group}/${version}/${kind}`;
  return null;
}

const docs = JSON.parse(readFileSync(0, "utf8"));
for (const doc of docs) {
  const id = { apiVersion: doc.apiVersion, kind: doc.kind, name: doc.metadata?.name };
  const path = modulePath(doc.apiVersion ?? "", doc.kind ?? "");
  let model;
  try {
    model = path && (await import(path))[doc.kind];
  } catch {
    model = null;
  }
  if (!model) {
    console.log(JSON.stringify({ ...id, schema: false, error: `no schema for ${doc.apiVersion} ${doc.kind}` }));
    continue;
  }
  try {
    new model(doc).validate();
    console.log(JSON.stringify({ ...id, schema: true, error: null }));
  } catch (e) {
    console.log(JSON.stringify({ ...id, schema: true, error: String(e.message ?? e) }));
  }
}
