"""The OTLP/HTTP exporter end to end: a process configured by the standard variables alone
(``OTEL_TRACES_EXPORTER=otlp``, ``OTEL_EXPORTER_OTLP_ENDPOINT``) sends its spans as protobuf to a small OTLP
receiver in the test, decoded with opentelemetry-proto: the request's SERVER span and, under it, the database's
CLIENT span from the psycopg instrumentation (the statement with its placeholders, never the values); a query
outside any traced operation sends nothing. Off, the instrumentation is not even imported."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from services.runtime import tracing
from services.runtime.access import Allow, RoleMatrix
from services.runtime.auth import CurrentActor, TokenCodec
from services.runtime.clock import SystemClock
from services.runtime.db import Database
from services.runtime.metrics import Metrics
from services.runtime.settings import DEV_JWT_SECRET
from services.runtime.testing import auth
from services.runtime.web import create_base_app

pytestmark = pytest.mark.integration
SECRET_VALUE = "52010220150301123X"  # a parameter that must never reach a span


class Receiver:
    """An OTLP/HTTP trace receiver on 127.0.0.1: keeps every span it was sent, with its resource's attributes."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.requests: list[dict[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.requests.append({"path": self.path, "type": self.headers.get("Content-Type", "")})
                request = ExportTraceServiceRequest.FromString(body)
                for resource_spans in request.resource_spans:
                    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            receiver.spans.append({
                                "resource": resource, "scope": scope_spans.scope.name, "name": span.name,
                                "kind": span.kind, "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
                                "parent_id": span.parent_span_id.hex(),
                                "attributes": {a.key: _value(a.value) for a in span.attributes}})
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _value(v: Any) -> Any:
    return json.loads(json.dumps(getattr(v, v.WhichOneof("value")))) if v.WhichOneof("value") != "array_value" else [
        _value(x) for x in v.array_value.values]


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    r = Receiver()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", r.url)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "baoxue-otlp-test")
    monkeypatch.delenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", raising=False)
    try:
        yield r
    finally:
        tracing.uninstall()
        r.close()


class Log:
    def info(self, *_a: Any, **_k: Any) -> None: ...

    error = warning = info


def test_spans_reach_an_otlp_receiver_with_the_database_under_the_request(receiver: Receiver, database_url: str):
    assert tracing.configure("notes", "api") is True
    db = Database(database_url, "otlp_test", size=2)  # connected after configure, as build_runtime does
    try:
        with db.transaction() as conn:
            conn.execute("SELECT 1 AS untraced")  # no operation around it: no span
        app = create_base_app(service="notes", title="t", description="d", metrics=Metrics("notes-otlp"),
                              logger=Log(), token_codec=TokenCodec(DEV_JWT_SECRET), clock=SystemClock(),
                              readiness={}, role_matrix=RoleMatrix({"GET /v1/lookup": Allow("county_officer")},
                                                                   service="notes"))

        @app.get("/v1/lookup")
        def lookup(actor: CurrentActor) -> dict[str, int]:
            with db.transaction() as conn:
                row = conn.execute("SELECT length(%s::text) AS n", (SECRET_VALUE,)).fetchone()
            return {"n": row["n"]}

        with TestClient(app) as client:
            r = client.get("/v1/lookup", headers=auth("county_officer", "520102"))
        assert r.status_code == 200 and r.json() == {"n": 18}
    finally:
        tracing.shutdown()  # flushes the batch processor: the exporter posts what it holds
        db.close()

    assert receiver.requests and all(q == {"path": "/v1/traces", "type": "application/x-protobuf"}
                                     for q in receiver.requests)
    (server,) = [s for s in receiver.spans if s["name"] == "GET /v1/lookup"]
    assert server["resource"]["service.name"] == "baoxue-otlp-test"
    assert server["resource"]["baoxue.process"] == "api" and server["kind"] == 2  # SPAN_KIND_SERVER
    queries = [s for s in receiver.spans if s["attributes"].get("db.system") == "postgresql"]
    assert queries, receiver.spans
    assert all(q["trace_id"] == server["trace_id"] and q["kind"] == 3 for q in queries)  # CLIENT, same trace
    lookup_query = [q for q in queries if "length" in q["attributes"].get("db.statement", "")]
    assert lookup_query and lookup_query[0]["parent_id"] == server["span_id"]
    assert lookup_query[0]["attributes"]["db.statement"] == "SELECT length(%s::text) AS n"
    assert not any("untraced" in str(s["attributes"]) for s in receiver.spans)
    assert SECRET_VALUE not in json.dumps(receiver.spans)


def test_off_by_default_nothing_of_the_sdk_or_the_instrumentation_is_imported():
    code = ("import os, sys; os.environ.pop('OTEL_TRACES_EXPORTER', None)\n"
            "from services.runtime import tracing\n"
            "assert tracing.configure('notes', 'api') is False and not tracing.enabled\n"
            "import psycopg\n"
            "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry.sdk', 'opentelemetry.instrumentation'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_the_database_can_be_left_untraced(receiver: Receiver, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "psycopg")
    assert tracing.configure("notes", "api") is True
    assert tracing._database is None
