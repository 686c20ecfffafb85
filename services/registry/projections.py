"""Read models of the registry's own events: schools, students, children, findings, divisions (rebuildable).

The same approach as casework's case index: the read model follows the service's notification log from a
stored position and is caught up lazily, in batches, before a query, import or comparison run. One batch
is applied in one transaction with its position (serialised on the position row), so replays are
idempotent. What each event does to a row is written once (`apply`) and shared by the PostgreSQL store and
the in-memory fake.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Iterable

from eventsourcing.utils import get_topic

from services.registry.comparisons import ChildRow, Finding, OpenFinding, StudentRow
from services.registry.configuration import ComparisonRuleSet
from services.registry.blinding import index_record, name_blind, scrub_erased
from services.registry.domain import School, Student, mask_name
from services.registry.erasure import Erasure
from services.registry.jurisdictions import Division
from services.registry.population import Child, resolve
from services.runtime.db import Database

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
TOPICS = frozenset(
    get_topic(cls) for agg in (*_TABLE_OF, Erasure) for cls in vars(agg).values()
    if isinstance(cls, type) and hasattr(cls, "mutate")
)


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
    from services.registry.domain import mask_id_number, student_id_for

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


class MemoryIndex:
    """The registry read model in dicts: a fake for in-memory tests and single-process tools."""

    def __init__(self, batch_size: int = 1000) -> None:
        self.batch_size = batch_size
        self.tables: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in COLUMNS}
        self.position = 0

    def catch_up(self, app: Any) -> int:
        while batch := app.recorder.select_notifications(start=self.position + 1, limit=self.batch_size):
            for e in decoded(app, batch):
                if isinstance(e, Erasure.Event):
                    for table, key in [("student_index", e.student_id)] + [
                            ("child_index", k) for k, _ in self.where("child_index", student_id=e.student_id)]:
                        if key in self.tables[table]:
                            self.tables[table][key] = scrub_erased(self.tables[table][key])
                    continue
                table = table_for(e)
                key = str(e.originator_id)
                new = apply(self.tables[table].get(key), e)
                if new is not None:
                    self.tables[table][key] = new
            self.position = batch[-1].id
        return self.position

    def get(self, table: str, key: str) -> dict[str, Any] | None:
        return self.tables[table].get(key)

    def get_many(self, table: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        return {k: self.tables[table][k] for k in keys if k in self.tables[table]}

    def rows(self, table: str, prefix: str = "", field: str = "township_code",
             **equals: Any) -> list[tuple[str, dict[str, Any]]]:
        return [(k, r) for k, r in self.tables[table].items() if (r.get(field) or "").startswith(prefix)
                and all(r.get(f) == v for f, v in equals.items())]

    def where(self, table: str, **equals: Any) -> list[tuple[str, dict[str, Any]]]:
        return [(k, r) for k, r in self.tables[table].items() if all(r.get(f) == v for f, v in equals.items())]

    def census_candidates(self, prefix: str) -> list[tuple[str, dict[str, Any]]]:
        """Children under `prefix` the census comparison can judge other than "registered, nothing to do": those
        without a registration that is not closed, and those with an open out-of-school finding."""
        students, findings = self.tables["student_index"], self.tables["finding_index"]
        flagged = {r["student_id"] for r in findings.values() if r["kind"] == "out_of_school" and r["open"]}
        return [(k, r) for k, r in self.rows("child_index", prefix)
                if r["student_id"] in flagged or students.get(r["student_id"], {}).get("status", "closed") == "closed"]

    def open_findings(self, kind: str, student_ids: Iterable[str] | None = None,
                      prefix: str | None = None) -> dict[str, OpenFinding]:
        wanted = set(student_ids) if student_ids is not None else None
        return {
            r["student_id"]: OpenFinding(k, kind, r["student_id"], r["episode"])
            for k, r in self.tables["finding_index"].items()
            if r["kind"] == kind and r["open"] and (wanted is None or r["student_id"] in wanted)
            and (prefix is None or r["township_code"].startswith(prefix))
        }

    def drop(self) -> None:
        self.tables = {t: {} for t in COLUMNS}
        self.position = 0


class PostgresIndex:
    """The registry read model in the service's schema, with its position committed beside its rows."""

    def __init__(self, db: Database, batch_size: int = 2000) -> None:
        self.db = db
        self.batch_size = batch_size
        self._ready = False

    def ensure(self) -> None:
        if not self._ready:
            self.db.execute_script(DDL)
            self._ready = True

    def catch_up(self, app: Any) -> int:
        """Applies every new event in batches (load touched rows, apply, write back); returns the position."""
        self.ensure()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT position FROM projection_position WHERE name = %s", (NAME,)).fetchone()
        position = row["position"] if row else 0
        if (app.recorder.max_notification_id() or 0) <= position:
            return position
        while True:
            with self.db.transaction() as conn:
                conn.execute("INSERT INTO projection_position VALUES (%s, 0) ON CONFLICT DO NOTHING", (NAME,))
                position = conn.execute(
                    "SELECT position FROM projection_position WHERE name = %s FOR UPDATE", (NAME,)
                ).fetchone()["position"]
                batch = app.recorder.select_notifications(start=position + 1, limit=self.batch_size)
                if not batch:
                    return position
                self._apply_batch(conn, decoded(app, batch))
                position = batch[-1].id
                conn.execute("UPDATE projection_position SET position = %s WHERE name = %s", (position, NAME))
            if len(batch) < self.batch_size:
                return position

    def _apply_batch(self, conn: Any, events: list[Any]) -> None:
        erasures = [e for e in events if isinstance(e, Erasure.Event)]
        self._apply_rows(conn, [e for e in events if not isinstance(e, Erasure.Event)])
        for e in erasures:  # after the batch's other rows are written (a rebuild replays them redacted)
            conn.execute("UPDATE student_index SET name_masked = '*', name_blind = NULL WHERE id = %s", (e.student_id,))
            conn.execute("UPDATE child_index SET name_masked = '*', name_blind = NULL, id_number_masked = NULL, "
                         "birth_date = NULL, records = '{}'::jsonb, flags = '{}', status = 'erased' "
                         "WHERE student_id = %s", (e.student_id,))

    def _apply_rows(self, conn: Any, events: list[Any]) -> None:
        keys: dict[str, set[str]] = {}
        for e in events:
            keys.setdefault(table_for(e), set()).add(str(e.originator_id))  # type: ignore[arg-type]
        current = {t: self._load(conn, t, list(ks)) for t, ks in keys.items()}
        dirty: dict[str, set[str]] = {t: set() for t in keys}
        for e in events:
            table = table_for(e)
            key = str(e.originator_id)
            new = apply(current[table].get(key), e)  # type: ignore[index]
            if new is not None:
                current[table][key] = new  # type: ignore[index]
                dirty[table].add(key)  # type: ignore[index]
        for table, ks in dirty.items():
            if ks:
                self._write(conn, table, [(k, current[table][k]) for k in ks])

    @staticmethod
    def _load(conn: Any, table: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        rows = conn.execute(f"SELECT * FROM {table} WHERE id = ANY(%s)", (keys,)).fetchall()
        return {r.pop("id"): r for r in rows}

    @staticmethod
    def _write(conn: Any, table: str, rows: list[tuple[str, dict[str, Any]]]) -> None:
        cols = COLUMNS[table]
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS tmp_{table} (LIKE {table}) ON COMMIT DROP")
        with conn.cursor().copy(f"COPY tmp_{table} (id, {', '.join(cols)}, version) FROM STDIN") as copy:
            for key, row in rows:
                copy.write_row([key, *(_pg(c, row.get(c)) for c in cols), row["version"]])
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in (*cols, "version"))
        conn.execute(f"INSERT INTO {table} SELECT * FROM tmp_{table} ON CONFLICT (id) DO UPDATE SET {sets}")
        conn.execute(f"TRUNCATE tmp_{table}")

    # -- queries ---------------------------------------------------------------------------------
    def get(self, table: str, key: str) -> dict[str, Any] | None:
        return self.get_many(table, [key]).get(key)

    def get_many(self, table: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        self.ensure()
        with self.db.transaction() as conn:
            return self._load(conn, table, keys)

    def rows(self, table: str, prefix: str = "", field: str = "township_code",
             **equals: Any) -> list[tuple[str, dict[str, Any]]]:
        """Rows whose `field` starts with `prefix` (and whose columns equal `equals`)."""
        self.ensure()
        clause = "".join(f" AND {f} = %s" for f in equals)
        with self.db.transaction() as conn:
            rows = conn.execute(f"SELECT * FROM {table} WHERE {field} LIKE %s{clause}",
                                (prefix + "%", *equals.values())).fetchall()
        return [(r.pop("id"), r) for r in rows]

    def where(self, table: str, **equals: Any) -> list[tuple[str, dict[str, Any]]]:
        self.ensure()
        clause = " AND ".join(f"{f} = %s" for f in equals) or "true"
        with self.db.transaction() as conn:
            rows = conn.execute(f"SELECT * FROM {table} WHERE {clause}", tuple(equals.values())).fetchall()
        return [(r.pop("id"), r) for r in rows]

    def census_candidates(self, prefix: str) -> list[tuple[str, dict[str, Any]]]:
        """Children under `prefix` the census comparison can judge other than "registered, nothing to do": those
        without a registration that is not closed, and those with an open out-of-school finding (read in one query,
        not every child of the province each day)."""
        self.ensure()
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT c.* FROM child_index c WHERE c.township_code LIKE %s AND ("
                " NOT EXISTS (SELECT 1 FROM student_index s WHERE s.id = c.student_id AND s.status <> 'closed')"
                " OR EXISTS (SELECT 1 FROM finding_index f WHERE f.student_id = c.student_id"
                " AND f.kind = 'out_of_school' AND f.open))", (prefix + "%",)).fetchall()
        return [(r.pop("id"), r) for r in rows]

    def open_findings(self, kind: str, student_ids: Iterable[str] | None = None,
                      prefix: str | None = None) -> dict[str, OpenFinding]:
        self.ensure()
        query = "SELECT id, student_id, episode FROM finding_index WHERE kind = %s AND open"
        params: list[Any] = [kind]
        if student_ids is not None:
            query += " AND student_id = ANY(%s)"
            params.append(list(student_ids))
        if prefix is not None:
            query += " AND township_code LIKE %s"
            params.append(prefix + "%")
        with self.db.transaction() as conn:
            rows = conn.execute(query, params).fetchall()
        return {r["student_id"]: OpenFinding(r["id"], kind, r["student_id"], r["episode"]) for r in rows}

    def drop(self) -> None:
        self.ensure()
        with self.db.transaction() as conn:
            conn.execute("TRUNCATE " + ", ".join(COLUMNS))
            conn.execute("DELETE FROM projection_position WHERE name = %s", (NAME,))


def _pg(column: str, value: Any) -> Any:
    if TYPES.get(column) == "jsonb" and value is not None:
        return json.dumps(value, ensure_ascii=False, default=str)
    return value
