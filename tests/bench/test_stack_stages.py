"""The stack bench's stages: one case's boundaries are read from the spans of its own trace (the close's commit in
attendance's API, the relay's PRODUCER span of SuspectedDropoutDetected, casework's CONSUMER span under it and the
consumer's save, found by its trace or by a link), never from another case's."""

from __future__ import annotations

import json

from bench.stack_stages import Observed, case_times, new_traceparent, stage_rows

CE = "cn.baoxue.attendance.SuspectedDropoutDetected.v1"


def span(trace, span_id, service, process, name, kind, start, end, parent=None, links=(), **attributes):
    return {"service": service, "process": process, "name": name, "kind": kind, "trace_id": trace,
            "span_id": span_id, "parent_id": parent, "links": list(links), "attributes": attributes,
            "start": start, "end": end}


def case_spans(trace, base, *, save_by_link=False):
    """The spans one traced close leaves, ``base`` ns onwards (the bench sent the request at ``base``)."""
    save_trace = "f" * 32 if save_by_link else trace
    return [
        span(trace, "a1", "attendance", "api", "POST /v1/schools/{school_id}/days/{day}/close", "SERVER", base + 1, base + 40),
        span(trace, "a2", "attendance", "api", "eventstore.append", "INTERNAL", base + 10, base + 20, "a1"),
        span(trace, "a3", "attendance", "api", "eventstore.append", "INTERNAL", base + 21, base + 30, "a1"),
        span(trace, "r0", "attendance", "relay", "baoxue.attendance.v1 publish", "PRODUCER", base + 31, base + 31, "a1",
             **{"cloudevents.event_type": "cn.baoxue.attendance.AbsenceRecorded.v1"}),
        span(trace, "r1", "attendance", "relay", "baoxue.attendance.v1 publish", "PRODUCER", base + 35, base + 35, "a1",
             **{"cloudevents.event_type": CE}),
        span(trace, "c0", "reporting", "consumer", "reporting process", "CONSUMER", base + 50, base + 52, "r1"),
        span(trace, "c1", "casework", "consumer", "casework process", "CONSUMER", base + 60, base + 62, "r1"),
        span(save_trace, "c2", "casework", "consumer", "eventstore.append", "INTERNAL", base + 63, base + 80,
             links=[f"{trace}/c1"] if save_by_link else []),
    ]


def test_one_case_is_timed_from_its_own_spans():
    trace, _ = new_traceparent()
    other, _ = new_traceparent()
    spans = case_spans(trace, 1000) + case_spans(other, 5000)
    assert case_times(Observed(trace, 1000, 1100), spans) == {
        "sent": 1000, "attendance_commit": 1030, "produced": 1035, "policy": 1060, "casework_commit": 1080,
        "seen": 1100}


def test_a_batch_saved_under_another_message_s_trace_is_found_by_its_link():
    trace, _ = new_traceparent()
    times = case_times(Observed(trace, 0, 200), case_spans(trace, 0, save_by_link=True))
    assert times is not None and times["casework_commit"] == 80


def test_a_case_with_a_span_missing_is_left_out():
    trace, _ = new_traceparent()
    spans = [s for s in case_spans(trace, 0) if s["kind"] != "CONSUMER"]
    assert case_times(Observed(trace, 0, 200), spans) is None


def test_stage_rows_read_the_span_files(tmp_path):
    traces = [new_traceparent()[0] for _ in range(3)]
    with (tmp_path / "attendance-api-1.jsonl").open("w") as out:
        for n, trace in enumerate(traces):
            for s in case_spans(trace, n * 10_000_000):
                out.write(json.dumps(s) + "\n")
        out.write('{"cut off by a kill')  # a process killed mid-line
    rows = stage_rows(tmp_path, [Observed(t, n * 10_000_000, n * 10_000_000 + 2_000_000) for n, t in enumerate(traces)])
    assert [label for label, _ in rows][0].startswith("  stage: close request → attendance committed (3 cases)")
    assert len(rows) == 5
    assert rows[-1][1] == "p50 2 ms · p99 2 ms"  # committed at +80 ns, seen at +2 ms
