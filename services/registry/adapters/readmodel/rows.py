"""Read models of the registry's own events: tables, DDL and what each event does to a row (rebuildable).

The same approach as casework's case index: the read model follows the service's notification log from a
stored position and is caught up lazily, in batches, before a query, import or comparison run. One batch
is applied in one transaction with its position (serialised on the position row), so replays are
idempotent. What each event does to a row is written once (`apply`, here) and shared by the PostgreSQL store
(`postgres.py`) and the in-memory fake (`memory.py`).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Iterable

from services.registry.adapters.topics import event_topics
from services.registry.domain.comparisons import ChildRow, Finding, StudentRow
from services.registry.domain.configuration import ComparisonRuleSet
from services.registry.domain.blinding import index_record, name_blind
from services.registry.domain.registration import School, Student, mask_id_number, mask_name, student_id_for
from services.registry.domain.erasure import Erasure
from services.registry.domain.jurisdictions import Division
from services.registry.domain.population import Child, resolve

NAME = "registry_index"
ALWAYS = "0001-01-01"  # a school registered without an opening date was open before records began

COLUMNS: dict[str, tuple[str, ...]] = {
    "school_index": ("code", "name", "level", "county_code", "township_code", "registered_on", "closed_on",
                     "timeline"),
    "student_index": ("school_id", "county_code", "township_code", "grade", "class_name", "status", "since",
                      "transfer_out_on", "graduated_on", "closed_reason", "placement", "name_masked", "name_blind"),
    "child_index": ("student_id", "id_number_masked", "township_code", "birth_date", "status", "deferred_until", "flags",
                    "name_masked", "name_blind", "merged_into", "records"),
    "finding_index": ("kind", "episode", "student_id", "school_id", "township_code", "reason_code", "open"),
    "division_index": ("code", "level", "parent_code", "name", "established", "ended", "merged_into", "names"),
    "rule_index": ("jurisdiction", "body", "rules_version"),
}
TYPES = {
    "grade": "int", "open": "boolean", "flags": "text[]", "records": "jsonb", "names": "jsonb", "timeline": "jsonb",
    "body": "jsonb", "rules_version": "int",
    **{c: "date" for c in ("registered_on", "closed_on", "since", "transfer_out_on", "graduated_on", "birth_date",
                           "deferred_until", "established", "ended")},
}
DDL = "\n".join(
    f"CREATE TABLE IF NOT EXISTS {table} (id text PRIMARY KEY, "
    + ", ".join(f"{c} {TYPES.get(c, 'text')}" for c in cols)
    + ", version int NOT NULL);"
    for table, cols in COLUMNS.items()
) + """
CREATE INDEX IF NOT EXISTS student_index_township ON student_index (township_code text_pattern_ops);
CREATE INDEX IF NOT EXISTS student_index_school ON student_index (school_id);
CREATE INDEX IF NOT EXISTS student_index_name_blind ON student_index (name_blind);
CREATE INDEX IF NOT EXISTS student_index_status ON student_index (status, township_code text_pattern_ops);
CREATE INDEX IF NOT EXISTS child_index_township ON child_index (township_code text_pattern_ops);
CREATE INDEX IF NOT EXISTS child_index_student ON child_index (student_id);
CREATE INDEX IF NOT EXISTS child_index_name_blind ON child_index (name_blind);
CREATE INDEX IF NOT EXISTS finding_index_student ON finding_index (student_id, kind);
CREATE INDEX IF NOT EXISTS school_index_code ON school_index (code);
ALTER TABLE school_index ADD COLUMN IF NOT EXISTS timeline jsonb;
ALTER TABLE student_index ADD COLUMN IF NOT EXISTS name_masked text, ADD COLUMN IF NOT EXISTS name_blind text,
    DROP COLUMN IF EXISTS name, DROP COLUMN IF EXISTS birth_date;
ALTER TABLE child_index ADD COLUMN IF NOT EXISTS name_masked text, ADD COLUMN IF NOT EXISTS name_blind text,
    DROP COLUMN IF EXISTS name;
CREATE TABLE IF NOT EXISTS projection_position (name text PRIMARY KEY, position bigint NOT NULL);
"""

_TABLE_OF = {School: "school_index", Student: "student_index", Child: "child_index", Finding: "finding_index",
             Division: "division_index", ComparisonRuleSet: "rule_index"}
TOPICS = event_topics(*_TABLE_OF, Erasure)  # today's topics and those stored before the rooms


def table_for(domain_event: Any) -> str | None:
    for agg, table in _TABLE_OF.items():
        if isinstance(domain_event, agg.Event):
            return table
    return None


def _on(domain_event: Any) -> date | None:
    at = (getattr(domain_event, "meta", None) or {}).get("at")
    return date.fromisoformat(at[:10]) if at else domain_event.timestamp.date()


def apply(row: dict[str, Any] | None, e: Any) -> dict[str, Any] | None:
    """The row after one event (None: the event does not change this read model)."""
    if row is not None and row["version"] >= e.originator_version:
        return None  # already applied
    row = dict(row or {})
    row["version"] = e.originator_version
    # -- schools
    if isinstance(e, School.Registered):
        opened = getattr(e, "opened_on", None)
        since = opened.isoformat() if opened else ALWAYS  # no opening date: open since before records began
        row.update(code=e.code, name=e.name, level=e.level, county_code=e.county_code, township_code=e.township_code,
                   registered_on=opened or _on(e), closed_on=None,
                   timeline={"townships": [{"from": since, "code": e.township_code}],
                             "open": [{"from": since, "open": True}]})
    elif isinstance(e, School.Event):
        kind = type(e).__name__
        timeline = school_timeline(row)
        if kind == "Closed":
            row.update(closed_on=e.on)
            timeline["open"].append({"from": e.on.isoformat(), "open": False})
        elif kind == "Reopened":
            row.update(closed_on=None)
            timeline["open"].append({"from": e.on.isoformat(), "open": True})
        elif kind == "TownshipChanged":
            row.update(township_code=e.township_code, county_code=e.county_code)
            timeline["townships"].append({"from": e.effective.isoformat(), "code": e.township_code})
        row["timeline"] = timeline
    # -- comparison rule sets (thresholds per jurisdiction)
    elif isinstance(e, ComparisonRuleSet.Event):
        row.update(jurisdiction=e.jurisdiction, body=e.body, rules_version=e.rules_version)
    # -- students (学籍)
    elif isinstance(e, Student.Enrolled):
        row.update(school_id=e.school_id, county_code=e.county_code, township_code=e.township_code, grade=e.grade,
                   class_name=e.class_name, status="enrolled", since=_on(e), transfer_out_on=None, graduated_on=None,
                   closed_reason=None, placement=None, name_masked=mask_name(e.name or ""),
                   name_blind=name_blind(e.name))
    elif isinstance(e, Student.Event):
        kind = type(e).__name__
        if kind in ("TransferredIn", "Admitted"):
            row.update(school_id=e.school_id, county_code=e.county_code, township_code=e.township_code, grade=e.grade,
                       class_name=e.class_name, status="enrolled", since=e.on, transfer_out_on=None)
        elif kind == "TransferredOut":
            row.update(status="transferring_out", since=e.on, transfer_out_on=e.on)
        elif kind == "Suspended":
            row.update(status="suspended", since=e.on)
        elif kind == "Resumed":
            row.update(status="enrolled", since=e.on, grade=e.grade, class_name=e.class_name)
        elif kind == "Graduated":
            row.update(status="graduated_primary" if e.level == "primary" else "completed", since=e.on,
                       graduated_on=e.on)
        elif kind == "Placed":
            row.update(school_id=e.school_id, county_code=e.county_code, township_code=e.township_code,
                       status="enrolled", since=e.on, placement=e.placement, transfer_out_on=None)
        elif kind == "Closed":
            row.update(status="closed", since=e.on, closed_reason=e.reason)
    # -- children (适龄人口)
    elif isinstance(e, Child.Event):
        _apply_child(row, e)
    # -- findings
    elif isinstance(e, Finding.Identified):
        row.update(kind=e.kind, episode=e.episode, student_id=e.student_id, school_id=e.school_id,
                   township_code=e.township_code, reason_code=e.reason_code, open=True)
    elif isinstance(e, Finding.Event):
        kind = type(e).__name__
        if kind == "Retracted":
            row.update(open=False, reason_code=e.reason_code)
        elif kind == "Reidentified":
            row.update(open=True, reason_code=e.reason_code, township_code=e.township_code)
    # -- divisions
    elif isinstance(e, Division.Established):
        row.update(code=e.code, level=e.level, parent_code=e.parent_code, name=e.name, established=e.effective,
                   ended=None, merged_into=None, names=[{"from": e.effective.isoformat(), "name": e.name}])
    elif isinstance(e, Division.Event):
        kind = type(e).__name__
        if kind == "Renamed":
            row.update(name=e.name, names=[*row["names"], {"from": e.effective.isoformat(), "name": e.name}])
        elif kind == "MergedInto":
            row.update(ended=e.effective, merged_into=e.target_code)
        elif kind == "Abolished":
            row.update(ended=e.effective)
    else:
        return None
    return row


def school_timeline(row: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """A school's townships and open/closed states with the dates they took effect (rows projected before
    timelines existed get one from their current values)."""
    timeline = row.get("timeline")
    if timeline:
        return {"townships": list(timeline["townships"]), "open": list(timeline["open"])}
    states = [{"from": ALWAYS, "open": True}]
    if row.get("closed_on") is not None:
        states.append({"from": row["closed_on"].isoformat(), "open": False})
    return {"townships": [{"from": ALWAYS, "code": row["township_code"]}], "open": states}


def school_as_of(row: dict[str, Any], day: date) -> dict[str, Any] | None:
    """What a school was on a day: its township then and whether it was open (None: not opened yet)."""
    timeline = school_timeline(row)
    iso = day.isoformat()
    townships = [t for t in sorted(timeline["townships"], key=lambda t: t["from"]) if t["from"] <= iso]
    states = [s for s in sorted(timeline["open"], key=lambda s: s["from"]) if s["from"] <= iso]
    if not townships or not states:
        return None
    closures = [s["from"] for s in states if not s["open"]]
    first = min(s["from"] for s in timeline["open"])
    return {"township_code": townships[-1]["code"], "open": states[-1]["open"],
            "opened_on": None if first == ALWAYS else date.fromisoformat(first),
            "closed_on": None if states[-1]["open"] else date.fromisoformat(closures[-1])}


def _apply_child(row: dict[str, Any], e: Any) -> None:
    kind = type(e).__name__
    if row.get("status") == "erased":
        return  # nothing personal comes back after an erasure
    records: dict[str, Any] = dict(row.get("records") or {})
    if kind == "Registered":
        row.update(student_id=str(student_id_for(e.id_number)), status="active", deferred_until=None,
                   merged_into=None, id_number_masked=mask_id_number(e.id_number))
        records = {e.record["key"]: index_record(e.record)}
    elif kind == "Reported":
        records[e.record["key"]] = index_record(e.record)
    elif kind == "LifeEventReported":
        row["status"] = e.status
    elif kind == "LifeEventCorrected":
        row["status"] = "active"
    elif kind == "EnrolmentDeferred":
        row["deferred_until"] = e.until
    elif kind == "Merged":
        for record in e.records:
            key = f"merged:{e.other_child_id}:{record['key']}"
            records[key] = {**index_record(record), "key": key, "via_merge": e.other_child_id}
    elif kind == "MergedInto":
        row.update(status="merged", merged_into=e.survivor_id)
    elif kind == "MergeUndone":
        records = {k: v for k, v in records.items() if v.get("via_merge") != e.other_child_id}
    elif kind == "Unmerged":
        row.update(status="active", merged_into=None)
    resolved = resolve(records.values())
    student_id = row["student_id"]
    row["records"] = records
    row["name_masked"] = resolved.get("name_masked")
    row["name_blind"] = resolved.get("name")
    row["township_code"] = resolved.get("township_code") or row.get("township_code") or _county_of(row, e)
    birth = resolved.get("birth_date")
    row["birth_date"] = date.fromisoformat(birth) if birth else row.get("birth_date") or _birth_of(e)
    row["flags"] = sorted({f for r in records.values() for f in r["flags"]})
    row["student_id"] = student_id


def _county_of(row: dict[str, Any], e: Any) -> str:
    return getattr(e, "id_number", "000000")[:6]


def _birth_of(e: Any) -> date:
    n = e.id_number
    return date(int(n[6:10]), int(n[10:12]), int(n[12:14]))


def to_child_row(r: dict[str, Any]) -> ChildRow:
    return ChildRow(r["student_id"], r["township_code"], r["birth_date"], r["status"], r.get("deferred_until"),
                    tuple(r.get("flags") or ()))


def to_student_row(r: dict[str, Any], student_id: str) -> StudentRow:
    return StudentRow(student_id, r["school_id"], r["township_code"], r["status"], r.get("since"),
                      r.get("transfer_out_on"), r.get("graduated_on"), r.get("grade") or 1, r.get("closed_reason"))


def decoded(app: Any, notifications: Iterable[Any]) -> list[Any]:
    notifications = [n for n in notifications if n.topic in TOPICS]
    prefetch = getattr(app.mapper, "prefetch_stored", None)
    if prefetch is not None:  # the batch's data keys in one query, not one per aggregate
        prefetch(notifications)
    return [app.mapper.to_domain_event(n) for n in notifications]
