"""OpenTelemetry traces: one trace from a command through the event store, the relay, the broker and consumers.

Off unless ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp``, ``console`` or ``baoxue_file``; all batched in a background thread): then every
process installs the SDK's tracer provider, named by ``OTEL_SERVICE_NAME`` (default ``baoxue-<service>``). Off, the
hooks below check one module flag and return, so the hot paths pay next to nothing. The context travels as a W3C
``traceparent``: in an event's ``meta`` while it waits in the events table (``Actor.meta`` stamps the current span),
then as the CloudEvents distributed-tracing extension (``ce_traceparent``/``ce_tracestate`` headers) on Kafka.
Span attributes are ids and codes only; never request bodies or personal data. With tracing on, psycopg's
connections are instrumented too (``opentelemetry-instrumentation-psycopg``, imported only then): a query inside a
traced operation is a CLIENT span under it (statement text with its placeholders, never the parameters); a query
outside one (a relay's poll, a lease heartbeat) records nothing. ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=psycopg``
leaves the database untraced.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, ContextManager, Iterator, Sequence

from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()
_tracer: trace.Tracer = trace.NoOpTracer()
_provider: Any = None
_database: Any = None  # the psycopg instrumentor while it is on
enabled = False  # read by the hooks; True once a tracer provider with an exporter is installed

FILE_EXPORTER = "baoxue_file"  # spans as JSON lines, one file per process under BAOXUE_TRACE_DIR (tests)


def install(provider: Any) -> None:
    """Uses ``provider`` (an SDK TracerProvider) for every span this process starts; tests install their own."""
    global _tracer, _provider, enabled
    _provider = provider
    _tracer = provider.get_tracer("baoxue")
    enabled = True


def uninstall() -> None:
    """Back to the no-op tracer, psycopg no longer instrumented (tests)."""
    global _tracer, _provider, _database, enabled
    if _database is not None:
        _database.uninstrument()
    _tracer, _provider, _database, enabled = trace.NoOpTracer(), None, None, False


def instrument_database(resource: Any, processors: Sequence[Any], env: Any) -> bool:
    """Database spans: psycopg's connections (the pools and every ``psycopg.connect``) traced through a provider of
    their own that shares the exporters but never starts a trace (``ParentBased(ALWAYS_OFF)``): a query is a span
    only as the child of a sampled operation, so polls and heartbeats cost no spans. Not the parameters."""
    global _database
    disabled = {n.strip().lower() for n in env.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")}
    if "psycopg" in disabled:
        return False
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

    provider = TracerProvider(resource=resource, sampler=ParentBased(ALWAYS_OFF), shutdown_on_exit=False)
    for processor in processors:  # the main provider shuts them down
        provider.add_span_processor(processor)
    instrumentor = PsycopgInstrumentor()
    instrumentor.instrument(tracer_provider=provider, skip_dep_check=True)
    _database = instrumentor
    return True


def configure(service: str, role: str, environ: dict[str, str] | None = None) -> bool:
    """Installs the SDK provider when ``OTEL_TRACES_EXPORTER`` asks for one; False (no-op tracing) otherwise."""
    env = os.environ if environ is None else environ
    names = [n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "none").split(",") if n.strip()]
    names = [n for n in names if n != "none"]
    if not names:
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME") or f"baoxue-{service}",
                                "baoxue.service": service, "baoxue.process": role})
    provider = TracerProvider(resource=resource)
    processors = []
    for name in names:
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            processors.append(BatchSpanProcessor(OTLPSpanExporter()))
        elif name == "console":
            processors.append(BatchSpanProcessor(ConsoleSpanExporter()))
        elif name == FILE_EXPORTER:
            directory = Path(env.get("BAOXUE_TRACE_DIR", "var/traces"))
            processors.append(BatchSpanProcessor(FileSpanExporter(
                directory / f"{service}-{role}-{os.getpid()}.jsonl")))
        else:
            raise ValueError(f"OTEL_TRACES_EXPORTER: unknown exporter {name!r} (otlp, console, {FILE_EXPORTER}, none)")
    for processor in processors:
        provider.add_span_processor(processor)
    if _database is None:
        instrument_database(resource, processors, env)
    install(provider)
    return True


def shutdown() -> None:
    """Flushes the exporters (a process that stops)."""
    if _provider is not None:
        _provider.shutdown()


class FileSpanExporter:
    """Writes each finished span as one JSON line (ids, name, kind, attributes, links): what the cross-process test
    reads, without a collector."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        with self.path.open("a", encoding="utf-8") as out:
            for span in spans:
                out.write(json.dumps(span_record(span), ensure_ascii=False) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def span_record(span: Any) -> dict[str, Any]:
    """A finished SDK span as plain data (hex ids)."""
    ctx, parent = span.context, span.parent
    return {
        "service": span.resource.attributes.get("baoxue.service"),
        "process": span.resource.attributes.get("baoxue.process"),
        "name": span.name, "kind": span.kind.name,
        "trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}",
        "parent_id": f"{parent.span_id:016x}" if parent is not None else None,
        "links": [f"{link.context.trace_id:032x}/{link.context.span_id:016x}" for link in span.links],
        "attributes": dict(span.attributes or {}), "start": span.start_time, "end": span.end_time,
    }


# -- the context as text ------------------------------------------------------------------------------------------
def current_traceparent() -> dict[str, str]:
    """The current span's ``traceparent`` (and ``tracestate``) for an event's meta; empty when nothing is traced."""
    if not enabled:
        return {}
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier


def context_of(traceparent: str | None, tracestate: str | None = None) -> Any:
    """The OpenTelemetry context a stored or received ``traceparent`` names (None without one)."""
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    return _PROPAGATOR.extract(carrier)


def header_values(headers: Sequence[tuple[str, bytes]] | None) -> tuple[str | None, str | None]:
    """``ce_traceparent``/``ce_tracestate`` of a Kafka message (the CloudEvents distributed-tracing extension)."""
    parent = state = None
    for name, value in headers or ():
        if name == "ce_traceparent":
            parent = value.decode("latin-1")
        elif name == "ce_tracestate":
            state = value.decode("latin-1")
    return parent, state


# -- spans --------------------------------------------------------------------------------------------------------
def span(name: str, *, kind: SpanKind = SpanKind.INTERNAL, parent: Any = None, links: Sequence[Link] = (),
         attributes: dict[str, Any] | None = None) -> ContextManager[Any]:
    """A current span (child of ``parent``, a context, when given); a null context when tracing is off."""
    if not enabled:
        return nullcontext(None)
    return _tracer.start_as_current_span(name, context=parent, kind=kind, links=links, attributes=attributes)


@contextmanager
def http_span(scope: dict[str, Any]) -> Iterator[Any]:
    """The server span of one HTTP request, continuing an incoming ``traceparent``; named by its route template
    once routing matched (never the raw path: ids in paths are not span names)."""
    if not enabled:
        yield None
        return
    headers = dict(scope.get("headers") or ())
    incoming = headers.get(b"traceparent")
    parent = context_of(incoming.decode("latin-1"), (headers.get(b"tracestate") or b"").decode("latin-1")) \
        if incoming else None
    method = scope.get("method", "")
    with _tracer.start_as_current_span(f"{method} http", context=parent, kind=SpanKind.SERVER,
                                       attributes={"http.request.method": method}) as current:
        yield current


def end_http_span(current: Any, scope: dict[str, Any], status: int) -> None:
    """Names the request's span by its route and records the status (5xx marks it failed)."""
    if current is None:
        return
    route = getattr(scope.get("route"), "path", "unmatched")
    current.update_name(f"{scope.get('method', '')} {route}")
    current.set_attribute("http.route", route)
    current.set_attribute("http.response.status_code", status)
    if status >= 500:
        current.set_status(Status(StatusCode.ERROR))


def append_span(service: str, events: Sequence[Any]) -> ContextManager[Any]:
    """The span of one event-store save (the event types and count; no payloads)."""
    if not enabled:
        return nullcontext(None)
    types = sorted({type(e).__qualname__ for e in events})
    parent, links = None, []
    if not trace.get_current_span().get_span_context().is_valid:
        # a consumer's batch is saved after its messages' spans ended: the save continues the first message's
        # trace (its events' meta) and links the others
        stamped = list(dict.fromkeys(m["traceparent"] for e in events
                                     if isinstance(m := getattr(e, "meta", None), dict) and m.get("traceparent")))
        if stamped:
            parent = context_of(stamped[0])
            links = [Link(trace.get_current_span(context_of(tp)).get_span_context()) for tp in stamped[1:20]]
    return _tracer.start_as_current_span("eventstore.append", context=parent, kind=SpanKind.INTERNAL, links=links,
                                         attributes={"baoxue.service": service, "baoxue.events": len(events),
                                                     "baoxue.event_types": types[:20]})


def publish_span(topic: str, meta: dict[str, Any], subject: str, ce_type: str, sequence: int) -> Any:
    """A relay's producer span for one message, child of the command that stored the event; started and ended at
    once (the relay does not wait per message), returns the headers that carry it on (empty when not traced)."""
    if not enabled or not meta.get("traceparent"):
        return []
    parent = context_of(meta["traceparent"], meta.get("tracestate"))
    current = _tracer.start_span(f"{topic} publish", context=parent, kind=SpanKind.PRODUCER, attributes={
        "messaging.system": "kafka", "messaging.destination.name": topic, "messaging.operation.type": "publish",
        "cloudevents.event_type": ce_type, "cloudevents.event_subject": subject, "baoxue.sequence": sequence})
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(current))
    current.end()
    return [(f"ce_{k}", v.encode("latin-1")) for k, v in carrier.items()]


def consume_span(consumer: str, message: Any) -> ContextManager[Any]:
    """A consumer's span for applying one message, child of the publisher's span (``ce_traceparent``); effects
    stamped inside it (``Actor.meta``) carry the trace on."""
    if not enabled:
        return nullcontext(None)
    envelope = message.envelope
    parent = context_of(getattr(message, "traceparent", None), getattr(message, "tracestate", None))
    return _tracer.start_as_current_span(f"{consumer} process", context=parent, kind=SpanKind.CONSUMER, attributes={
        "messaging.system": "kafka", "messaging.operation.type": "process", "messaging.consumer.group.name": consumer,
        "cloudevents.event_id": envelope.id, "cloudevents.event_type": envelope.type,
        "cloudevents.event_subject": envelope.subject})

