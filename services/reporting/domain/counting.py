"""Dashboard counting rules, pure: what each counted thing (an enrolment, a case, an open detection, an open
finding, a school) contributes to the counters, and how contributions roll up from a leaf to every level.

Each contribution is an entry (leaf, measure, key, since, until) → n; an entry counts on the days (ordinals)
``since <= day < until``, which is how special groups (valid from/until a date), pending deadlines (overdue after
their day) and school moves (乡镇撤并: a school's township from an effective date) stay exact on any day. Rows are
plain dicts (a read-model row); the adapters sum these over rows (rebuild) or as differences (live consumer).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from typing import Any, Iterable, Iterator

from services.reporting.domain.calendar import china_day
from services.reporting.domain.stages import CONFIRMED_STATUSES, OPEN_STATUSES

Row = dict[str, Any]
ALWAYS, FOREVER = 0, 10_000_000  # day ordinals before and after any date
ENROLLED = ("enrolled", "suspended")
OVERDUE_STATUSES = ("confirmed", "legal", "suspected")
ROWS, IRREGULAR = "_rows", "_irregular"  # a leaf exists (counts zero rather than absent); a code shorter than 9
Entry = tuple[str, str, str, str, int, int]  # township (9 digits), school ("" none), measure, key, since, until
Timeline = list[tuple[int, int, str]]  # (since, until, township) of a school that moved; empty: never moved


def _day(value: date) -> int:
    return value.toordinal()


def _union(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for a, b in sorted(x for x in spans if x[0] < x[1]):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def group_spans(groups_row: Row | None) -> dict[str, list[tuple[int, int]]] | None:
    """Per group code, the days it is valid (since ≤ day < until); None when the child has no published groups."""
    if groups_row is None:
        return None
    spans: dict[str, list[tuple[int, int]]] = {}
    for g in json.loads(groups_row["detail"] or "[]"):
        until = _day(date.fromisoformat(g["until"])) if g["until"] else FOREVER
        spans.setdefault(g["group"], []).append((_day(date.fromisoformat(g["since"])), until))
    return {g: _union(s) for g, s in spans.items()}


def _grouped(t: str, s: str, spans: dict[str, list[tuple[int, int]]], total: str | None, each: str) -> Iterator[Entry]:
    if total:
        for a, b in _union(x for v in spans.values() for x in v):
            yield (t, s, total, "", a, b)
    for g, v in spans.items():
        for a, b in v:
            yield (t, s, each, g, a, b)


def _leaf(row: Row) -> tuple[str, str]:
    return (row["township_code"] or "")[:9], row["school_id"] or ""


def enrolment(st: Row | None, spans: dict | None) -> Iterator[Entry]:
    if st is None or st["residency"] != "resident" or st["enrolment"] not in ENROLLED:
        return
    t, s = _leaf(st)
    yield (t, s, ROWS, "", ALWAYS, FOREVER)
    if st["grade"] is not None:
        yield (t, s, "enrolled_primary" if st["grade"] <= 6 else "enrolled_junior", "", ALWAYS, FOREVER)
        yield (t, s, "enrolled", "", ALWAYS, FOREVER)
    if spans is not None:
        yield from _grouped(t, s, spans, "special_group_enrolled", "groups_enrolled")


def case(row: Row | None, grade: int | None, spans: dict | None) -> Iterator[Entry]:
    if row is None:
        return
    t, s = _leaf(row)
    status = row["status"]
    static = [ROWS, "cases"]
    yield (t, s, "stage", status, ALWAYS, FOREVER)
    if status == "suspected":
        static.append("open_suspected_dropouts")
    if status in CONFIRMED_STATUSES and not row["excluded"]:
        static.append("confirmed_dropouts")
        if grade is not None:
            static.append("confirmed_primary" if grade <= 6 else "confirmed_junior")
    if status == "returned" or (status == "closed" and row["close_reason"] == "returned"):
        static.append("returned")
        if row["returned_on"] is not None:
            days = (row["returned_on"] - china_day(row["opened_at"])).days
            yield (t, s, "return_days", str(days), ALWAYS, FOREVER)
    if spans and status in OPEN_STATUSES:
        yield from _grouped(t, s, spans, "special_group_open_cases", "groups_open_cases")
    if status == "closed":
        static.append("closed")
    if row["outcome"] == "not_dropout":
        static.append("not_dropout")
    if row["excluded"]:
        static.append("excluded")
    if status in OVERDUE_STATUSES:
        if row["deadline_status"] == "overdue":
            static.append("overdue_deadlines")
        elif row["deadline_status"] == "pending" and row["deadline_at"] is not None:
            # overdue from the day after its day; on its own day the dashboard counts it against the clock
            yield (t, s, "overdue_deadlines", "", _day(china_day(row["deadline_at"])) + 1, FOREVER)
    if row["outcome"] == "dropout":
        for cause in (row["causes"] or "").split(","):
            if cause:
                yield (t, s, "cause", cause, ALWAYS, FOREVER)
    for m in static:
        yield (t, s, m, "", ALWAYS, FOREVER)


def detection(row: Row | None) -> Iterator[Entry]:
    if row is not None and row["status"] == "open":
        t, s = _leaf(row)
        yield (t, s, ROWS, "", ALWAYS, FOREVER)
        yield (t, s, "attendance_suspected_open", "", ALWAYS, FOREVER)


def finding(row: Row | None, spans: dict | None) -> Iterator[Entry]:
    if row is None or row["status"] != "open":
        return
    t, s = _leaf(row)
    yield (t, s, ROWS, "", ALWAYS, FOREVER)
    yield (t, s, row["kind"], "", ALWAYS, FOREVER)
    if spans is not None:  # the child's groups from the registry, valid on the day, else the finding's own
        yield from _grouped(t, s, spans, None, "special_groups")
    else:
        for g in (row["special_groups"] or "").split(","):
            if g:
                yield (t, s, "special_groups", g, ALWAYS, FOREVER)


def school(row: Row | None) -> Iterator[Entry]:
    if row is not None:
        yield ((row["township_code"] or "")[:9], row["school_id"], ROWS, "", ALWAYS, FOREVER)


def timeline(moves: Iterable[Row]) -> Timeline:
    """A moved school's township on every day: before the first move its old township, then each move's."""
    ordered = sorted(moves, key=lambda m: m["effective"])
    if not ordered:
        return []
    out, since, township = [], ALWAYS, ordered[0]["from_township_code"]
    for m in ordered:
        day = _day(m["effective"])
        if day > since:
            out.append((since, day, township))
        since, township = max(since, day), m["township_code"]
    out.append((since, FOREVER, township))
    return out


def relocate(entries: Iterable[Entry], moves: dict[str, Timeline], into: Counter, sign: int = 1) -> None:
    """Adds entries, a moved school's split over its townships by day."""
    for entry in entries:
        segments = moves.get(entry[1]) if entry[1] else None
        if not segments:
            into[entry] += sign
            continue
        t, s, m, k, a, b = entry
        for sa, sb, township in segments:
            lo, hi = max(a, sa), min(b, sb)
            if lo < hi:
                into[(township[:9], s, m, k, lo, hi)] += sign


def units(township: str, school_id: str) -> list[tuple[str, str]]:
    """(unit, parent) of a leaf and every level above it."""
    out, parent = [], ""
    for n in (2, 4, 6, 9):
        if len(township) >= n:
            out.append((township[:n], parent))
            parent = township[:n]
    out.append((f"{township}|{school_id}", township))
    return out


def expand(leaf_counts: Counter) -> dict[tuple, tuple[str, int]]:
    """Leaf entries onto every unit: (unit, measure, key, since, until) → (parent, n)."""
    out: dict[tuple, list] = {}
    for (t, s, m, k, a, b), n in leaf_counts.items():
        if not n:
            continue
        chain = units(t, s)
        if len(t) != 9 and m == ROWS:
            for unit, parent in chain:
                _add(out, (unit, IRREGULAR, "", ALWAYS, FOREVER), parent, n)
        for unit, parent in chain:
            _add(out, (unit, m, k, a, b), parent, n)
    return {k: (v[0], v[1]) for k, v in out.items() if v[1]}


def _add(out: dict, key: tuple, parent: str, n: int) -> None:
    slot = out.setdefault(key, [parent, 0])
    slot[1] += n


COUNTED = ("students", "ledger", "suspected", "findings", "schools", "special_groups", "school_moves")
