// Validates Kubernetes objects (a JSON array on stdin) against the JSON Schemas the kubernetes-models packages
// ship: Kubernetes itself, Strimzi, CloudNativePG, prometheus-operator, KEDA. Prints one JSON line per object.
//
// Those validators leave additionalProperties open, so a misspelt field passes them (and the operator would drop
// it without a word). So every object is also walked against its model's type declaration (the package's
// `<Kind>.d.ts`, generated from the CRD's OpenAPI schema), read with the TypeScript compiler API: every key of
// every object must be a property the schema declares, except where the schema itself is a map (an index
// signature: labels, annotations) or leaves it open (`{}` or `any`: x-kubernetes-preserve-unknown-fields, as
// Strimzi does for a topic's and a broker's Kafka config).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import ts from "typescript";

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

function declarationFile(path) {
  try {
    return fileURLToPath(import.meta.resolve(path)).replace(/\.js$/, ".d.ts");
  } catch {
    return null;
  }
}

// --- the strict walk ------------------------------------------------------------------------------------------
const docs = JSON.parse(readFileSync(0, "utf8"));
const files = new Map();
for (const doc of docs) {
  const path = modulePath(doc.apiVersion ?? "", doc.kind ?? "");
  const file = path && declarationFile(path);
  if (file) files.set(`${doc.apiVersion}|${doc.kind}`, file);
}
const program = ts.createProgram([...new Set(files.values())], {
  noEmit: true, skipLibCheck: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ES2022,
});
const checker = program.getTypeChecker();

function interfaceType(file, kind) {
  const source = program.getSourceFile(file);
  if (!source) return null;
  for (const statement of source.statements) {
    if (ts.isInterfaceDeclaration(statement) && statement.name.text === `I${kind}`) {
      return checker.getDeclaredTypeOfSymbol(checker.getSymbolAtLocation(statement.name));
    }
  }
  return null;
}

function members(type) {
  return type.isUnion() ? type.types : [type];
}

function isOpen(type) {
  return (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) !== 0;
}

// What a JSON value may be checked against: the object-like members of the (possibly union) type.
function objectMembers(type) {
  return members(type).filter((t) => (t.flags & ts.TypeFlags.Object) !== 0 && !checker.isArrayType(t));
}

function unknownFields(value, type, path, out) {
  if (type === null || isOpen(type) || members(type).some(isOpen)) return;
  if (Array.isArray(value)) {
    for (const t of members(type)) {
      if (checker.isArrayType(t) || checker.isTupleType(t)) {
        const [element] = checker.getTypeArguments(t);
        value.forEach((item, i) => unknownFields(item, element ?? null, `${path}[${i}]`, out));
        return;
      }
    }
    return;
  }
  if (value === null || typeof value !== "object") return;
  const candidates = objectMembers(type);
  if (candidates.length === 0) return; // a primitive where an object is: the JSON Schema validator says so
  const free = (t) => checker.getPropertiesOfType(t).length === 0 && checker.getIndexInfosOfType(t).length === 0;
  if (candidates.some(free)) return; // `{}`: an object the schema leaves open (x-kubernetes-preserve-unknown-fields)
  for (const [key, item] of Object.entries(value)) {
    let found = null;
    for (const t of candidates) {
      const property = checker.getPropertyOfType(t, key);
      if (property) {
        found = checker.getTypeOfSymbol(property);
        break;
      }
      const index = checker.getIndexInfoOfType(t, ts.IndexKind.String);
      if (index) {
        found = index.type;
        break;
      }
    }
    if (found === null) {
      out.push(`${path}.${key}`);
      continue;
    }
    unknownFields(item, checker.getNonNullableType(found), `${path}.${key}`, out);
  }
}

// --- one line per object ----------------------------------------------------------------------------------------
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
    console.log(JSON.stringify({ ...id, schema: false, strict: false, unknown: [],
                                 error: `no schema for ${doc.apiVersion} ${doc.kind}` }));
    continue;
  }
  const type = interfaceType(files.get(`${doc.apiVersion}|${doc.kind}`), doc.kind);
  const unknown = [];
  if (type) unknownFields(doc, type, "", unknown);
  let error = null;
  try {
    new model(doc).validate();
  } catch (e) {
    error = String(e.message ?? e);
  }
  if (unknown.length) error = [error, `unknown fields: ${unknown.join(", ")}`].filter(Boolean).join("; ");
  console.log(JSON.stringify({ ...id, schema: true, strict: type !== null, unknown, error }));
}
