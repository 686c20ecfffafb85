"""Tracing in one process with the SDK's in-memory exporter: an HTTP command's span, its event-store append, the
relay's producer span (child of the command, carried as ``ce_traceparent``) and the consumer's span (child of the
producer), whose effects carry the trace on; with tracing off nothing is stamped or sent."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from eventsourcing.domain import Aggregate, event
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.runtime import tracing
from services.runtime.access import Allow, RoleMatrix
from services.runtime.actor import system_actor
from services.runtime.auth import CurrentActor, TokenCodec
from services.runtime.clock import SystemClock
from services.runtime.consumer_messages import Message
from services.runtime.consumer_sinks import EventSink
from services.runtime.eventstore import ServiceApplication
from services.runtime.kafka import decode
from services.runtime.metrics import Metrics
from services.runtime.relay import Relay
from services.runtime.settings import DEV_JWT_SECRET
from services.runtime.testing import auth, in_memory
from services.runtime.web import CommandMeta, create_base_app


class Note(Aggregate):
    @event("Noted")
    def __init__(self, key: str, meta: dict[str, Any]) -> None:
        self.key = key


class Notes(ServiceApplication):
    name = "Notes"


class Log:
    def info(self, *_a: Any, **_k: Any) -> None: ...

    error = warning = info


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    yield exporter
    tracing.uninstall()


def api(notes: Notes) -> TestClient:
    app = create_base_app(service="notes", title="t", description="d", metrics=Metrics("notes-trace"), logger=Log(),
                          token_codec=TokenCodec(DEV_JWT_SECRET), clock=SystemClock(), readiness={},
                          role_matrix=RoleMatrix({"POST /v1/notes/{key}": Allow("county_officer")}, service="notes"))

    @app.post("/v1/notes/{key}")
    def note(key: str, actor: CurrentActor, meta: CommandMeta) -> dict[str, str]:
        created = Note(key=key, meta=meta)
        notes.save(created)
        return {"id": str(created.id)}

    return TestClient(app)


def relay_for(notes: Notes) -> Relay:
    """A relay's header building without its broker and database (``headers_for`` needs neither)."""
    relay = object.__new__(Relay)
    relay.service, relay.topic, relay._source, relay._ce_types, relay.app = "notes", "baoxue.notes", "/baoxue/notes", {}, notes
    return relay


CONTRACT = SimpleNamespace(ce_type=lambda: "cn.baoxue.notes.Noted.v1", township_code="520102001")


def publish(relay: Relay, notes: Notes) -> tuple[list[tuple[str, bytes]], str]:
    [notification] = notes.recorder.select_notifications(start=1, limit=10)
    domain_event = notes.mapper.to_domain_event(notification)
    key = str(notification.originator_id)
    return relay.headers_for(notification, key, domain_event, CONTRACT, 0), key


def by_name(exporter: InMemorySpanExporter) -> dict[str, Any]:
    return {s.name: s for s in exporter.get_finished_spans()}


def test_a_command_its_append_the_relay_and_the_consumer_form_one_trace(spans):
    notes, effects = in_memory(Notes), in_memory(Notes)
    incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    response = api(notes).post("/v1/notes/k1", headers={**auth("county_officer", "520102"), "traceparent": incoming})
    assert response.status_code == 200, response.text

    found = by_name(spans)
    server, append = found["POST /v1/notes/{key}"], found["eventstore.append"]
    trace_id = server.context.trace_id
    assert f"{trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"  # the caller's trace continues
    assert server.parent.span_id == 0xB7AD6B7169203331
    assert server.attributes["http.route"] == "/v1/notes/{key}" and "k1" not in server.name
    assert append.parent.span_id == server.context.span_id

    headers, key = publish(relay_for(notes), notes)
    producer = by_name(spans)["baoxue.notes publish"]
    assert producer.parent.span_id == server.context.span_id and producer.context.trace_id == trace_id
    assert dict(headers)["ce_traceparent"] == f"00-{trace_id:032x}-{producer.context.span_id:016x}-01".encode()

    envelope, _data = decode(headers, key.encode(), b"{}")
    message = Message(envelope, SimpleNamespace(), *tracing.header_values(headers))

    def policy(msg: Message) -> list[Note]:
        return [Note(key=f"effect-of-{msg.envelope.subject}",
                     meta=system_actor("effects", "520102").meta(msg.envelope.correlationid, SystemClock().now()))]

    assert EventSink(effects).apply("effects-consumer:baoxue.notes:0", 1, policy, message)
    finished = spans.get_finished_spans()
    consumer = next(s for s in finished if s.name == "effects-consumer process")
    assert consumer.parent.span_id == producer.context.span_id and consumer.context.trace_id == trace_id
    assert consumer.attributes["cloudevents.event_id"] == envelope.id
    # the consumer's events carry its span on, and their save belongs to the same trace
    [stored] = effects.recorder.select_notifications(start=1, limit=10)
    effect = effects.mapper.to_domain_event(stored)
    assert effect.meta["traceparent"] == f"00-{trace_id:032x}-{consumer.context.span_id:016x}-01"
    saves = [s for s in finished if s.name == "eventstore.append" and s is not append]
    assert saves and saves[-1].parent.span_id == consumer.context.span_id
    assert {s.context.trace_id for s in finished} == {trace_id}
    # ids and codes only: no request body, no token
    for span in finished:
        assert not any("Bearer" in str(v) for v in span.attributes.values())


def test_with_tracing_off_nothing_is_stamped_nor_sent():
    assert not tracing.enabled
    notes = in_memory(Notes)
    assert api(notes).post("/v1/notes/k2", headers=auth("county_officer", "520102")).status_code == 200
    headers, _key = publish(relay_for(notes), notes)
    assert not any(name in ("ce_traceparent", "ce_tracestate") for name, _v in headers)
    [notification] = notes.recorder.select_notifications(start=1, limit=10)
    assert "traceparent" not in notes.mapper.to_domain_event(notification).meta


def test_configure_is_off_without_an_exporter_and_rejects_an_unknown_one(tmp_path):
    assert tracing.configure("notes", "api", {}) is False
    assert tracing.configure("notes", "api", {"OTEL_TRACES_EXPORTER": "none"}) is False
    assert not tracing.enabled
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER"):
        tracing.configure("notes", "api", {"OTEL_TRACES_EXPORTER": "zipkin-ish"})
    try:
        assert tracing.configure("notes", "api", {"OTEL_TRACES_EXPORTER": tracing.FILE_EXPORTER,
                                                  "BAOXUE_TRACE_DIR": str(tmp_path)})
        with tracing.span("work", attributes={"baoxue.id": "x"}):
            pass
        tracing.shutdown()  # the batch processor writes on its schedule or when flushed
        [written] = list(tmp_path.glob("notes-api-*.jsonl"))
        assert '"name": "work"' in written.read_text()
    finally:
        tracing.shutdown()
        tracing.uninstall()
