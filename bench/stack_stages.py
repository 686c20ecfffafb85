"""Where day close → CaseOpened spends its time, stage by stage, from the stack's own OpenTelemetry spans.

The stack runs with the ``baoxue_file`` exporter (every process appends its spans to a file of its own) and a
sampler that records only what the bench asks for: ``parentbased_traceidratio`` at 0, so a request without a
sampled ``traceparent`` (registrations, the bench's case polls, scheduler ticks) records nothing, and each timed day
close is sent with a ``traceparent`` of its own, sampled. Database spans are off (``psycopg`` instrumentation
disabled): the bench wants the path's stages, not its queries. The stages of one case, all on the host's wall clock:

1. close request sent (the bench) → the last ``eventstore.append`` of attendance's API under it ended (committed);
2. → attendance's relay produced ``SuspectedDropoutDetected`` (its PRODUCER span: the relay woke, read, mapped);
3. → casework's consumer ran the policy (its CONSUMER span, child of that PRODUCER span: linger, broker, fetch,
   the poll);
4. → casework's ``eventstore.append`` of the batch with that message ended (CaseOpened committed);
5. → the bench saw the case in casework's API (its read model catches up on the query; the bench polls every 5 ms).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import Row, ms_summary

DETECTED = "SuspectedDropoutDetected"
STAGES = (
    ("close request → attendance committed", "sent", "attendance_commit"),
    ("attendance committed → relay produced", "attendance_commit", "produced"),
    ("relay produced → casework policy ran", "produced", "policy"),
    ("casework policy ran → CaseOpened committed", "policy", "casework_commit"),
    ("CaseOpened committed → seen in casework API", "casework_commit", "seen"),
)


def tracing_env(directory: Path) -> dict[str, str]:
    """The stack's environment for stage timing: spans to files, only the bench's sampled traces recorded."""
    return {"OTEL_TRACES_EXPORTER": "baoxue_file", "BAOXUE_TRACE_DIR": str(directory),
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0",
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "psycopg", "OTEL_BSP_SCHEDULE_DELAY": "500"}


def new_traceparent() -> tuple[str, str]:
    """A sampled W3C ``traceparent`` for one timed close: (trace id, header value)."""
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


@dataclass
class Observed:
    """What the bench itself saw of one case (wall clock, ns)."""

    trace_id: str
    sent_ns: int
    seen_ns: int


def read_spans(directory: Path) -> list[dict[str, Any]]:
    spans = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    spans.append(json.loads(line))
                except ValueError:  # a line cut by a process that was killed
                    continue
    return spans


def case_times(observed: Observed, spans: list[dict[str, Any]]) -> dict[str, int] | None:
    """The five stage boundaries of one case (ns), or None when a span is missing."""
    mine = [s for s in spans if s["trace_id"] == observed.trace_id]
    commits = [s["end"] for s in mine if s["service"] == "attendance" and s["process"] == "api"
               and s["name"] == "eventstore.append"]
    produced = [s for s in mine if s["kind"] == "PRODUCER" and s["service"] == "attendance"
                and DETECTED in str(s["attributes"].get("cloudevents.event_type", ""))]
    if not commits or not produced:
        return None
    producer_ids = {s["span_id"] for s in produced}
    policies = [s for s in mine if s["kind"] == "CONSUMER" and s["service"] == "casework"
                and s["parent_id"] in producer_ids]
    if not policies:
        return None
    policy_ids = {f"{observed.trace_id}/{s['span_id']}" for s in policies}
    saves = [s["end"] for s in spans if s["service"] == "casework" and s["process"] == "consumer"
             and s["name"] == "eventstore.append"
             and (s["trace_id"] == observed.trace_id or policy_ids & set(s.get("links") or ()))]
    if not saves:
        return None
    return {"sent": observed.sent_ns, "attendance_commit": max(commits), "produced": min(s["start"] for s in produced),
            "policy": min(s["start"] for s in policies), "casework_commit": min(saves), "seen": observed.seen_ns}


def stage_rows(directory: Path, observed: list[Observed]) -> list[Row]:
    """p50/p99 of each stage over the cases whose spans were all found."""
    spans = read_spans(directory)
    times = [t for o in observed if (t := case_times(o, spans)) is not None]
    if not times:
        return [("stages (no traced case found in the spans)", "n/a")]
    rows = []
    for label, start, end in STAGES:
        rows.append((f"  stage: {label} ({len(times)} cases)", ms_summary([(t[end] - t[start]) / 1e9 for t in times])))
    return rows
