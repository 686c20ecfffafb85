"""Scorecard facts from one snapshot of the read models (cases, comparisons, enrolments per leaf; report
timeliness from the report index), and the versioned weights and targets (table ``scorecard_config``)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime
from typing import Any

from services.reporting.adapters.queries import Scope, View
from services.reporting.domain import labels
from services.reporting.domain.monthly import due_on
from services.reporting.domain.scorecards import CaseFact, ComparisonFact, ConfigRow, Leaf, config_hash
from services.runtime.clock import CHINA
from services.runtime.db import Database

CONFIG_DDL = """
CREATE TABLE IF NOT EXISTS scorecard_config (
    code text NOT NULL, effective_from date NOT NULL, version int NOT NULL, weights jsonb NOT NULL,
    targets jsonb NOT NULL, set_by_role text NOT NULL, set_at timestamptz NOT NULL,
    PRIMARY KEY (code, version)
);
"""
COMPARISONS = ("out_of_school", "transfer_lost", "transition_missed")


class ScorecardConfig:
    """Weights and targets per jurisdiction prefix: every change a new version with its effective-from date."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_tables(CONFIG_DDL)

    def rows(self, conn: Any = None) -> list[ConfigRow]:
        def read(c: Any) -> list[ConfigRow]:
            return [ConfigRow(r["code"], r["effective_from"], r["version"], r["weights"], r["targets"])
                    for r in c.execute("SELECT * FROM scorecard_config ORDER BY code, version")]
        if conn is not None:
            return read(conn)
        with self.db.transaction() as c:
            return read(c)

    def history(self, code: str) -> list[dict[str, Any]]:
        with self.db.transaction() as conn:
            return conn.execute("SELECT * FROM scorecard_config WHERE %s LIKE code || '%%' ORDER BY length(code), "
                                "version", (code,)).fetchall()

    def put(self, code: str, effective_from: date, weights: dict[str, float], targets: dict[str, float],
            role: str, at: datetime) -> tuple[dict[str, Any], bool]:
        """A new version unless the latest for this prefix and day says the same (a repeated request: harmless)."""
        with self.db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('scorecard_config:' || %s))", (code,))
            latest = conn.execute(
                "SELECT * FROM scorecard_config WHERE code = %s AND effective_from = %s ORDER BY version DESC LIMIT 1",
                (code, effective_from)).fetchone()
            if latest is not None and config_hash(latest["weights"], latest["targets"]) == config_hash(weights, targets):
                return latest, False
            version = conn.execute("SELECT coalesce(max(version), 0) + 1 AS v FROM scorecard_config WHERE code = %s",
                                   (code,)).fetchone()["v"]  # type: ignore[index]
            row = conn.execute(
                "INSERT INTO scorecard_config VALUES (%s,%s,%s,%s,%s,%s,%s) RETURNING *",
                (code, effective_from, version, json.dumps(weights), json.dumps(targets), role, at)).fetchone()
            return row, True  # type: ignore[return-value]


def leaves(view: View, scope: Scope) -> dict[tuple[str, str], Leaf]:
    """Each leaf's (township, school) enrolments, cases and comparison findings in the snapshot."""
    out: dict[tuple[str, str], Leaf] = defaultdict(Leaf)
    conn = view.conn
    where, params = scope.where("s")
    for r in conn.execute(
        "SELECT substr(s.township_code, 1, 9) AS t, coalesce(s.school_id, '') AS sc, count(*) AS n FROM students s "
        f"WHERE {where} AND s.residency = 'resident' AND s.enrolment IN ('enrolled', 'suspended') GROUP BY 1, 2",
        params,
    ):
        out[(r["t"], r["sc"])].enrolled += r["n"]
    where, params = scope.where("l")
    params["now"] = view.now
    triggers = set()
    for r in conn.execute(
        "SELECT l.case_id, substr(l.township_code, 1, 9) AS t, coalesce(l.school_id, '') AS sc, l.status, l.excluded, "
        "l.close_reason, l.opened_at, l.returned_on, l.gov_owners, l.edu_owners, l.trigger_id, l.last_sequence, "
        "l.last_topic, (l.deadline_status = 'overdue' OR (l.deadline_status = 'pending' AND l.deadline_at < %(now)s)) "
        f"AS overdue FROM ledger l WHERE {where}", params,
    ):
        triggers.add(r["trigger_id"])
        out[(r["t"], r["sc"])].cases.append(CaseFact(
            case_id=r["case_id"], township=r["t"], school=r["sc"], status=r["status"], excluded=bool(r["excluded"]),
            close_reason=r["close_reason"], opened_on=r["opened_at"].astimezone(CHINA).date(),
            returned_on=r["returned_on"], overdue=bool(r["overdue"]),
            gov_owned=bool(labels.parse_slots(r["gov_owners"])), edu_owned=bool(labels.parse_slots(r["edu_owners"])),
            sequence=r["last_sequence"], topic=r["last_topic"]))
    where, params = scope.where("f")
    params["kinds"] = list(COMPARISONS)
    for r in conn.execute(
        "SELECT f.finding_id, substr(f.township_code, 1, 9) AS t, coalesce(f.school_id, '') AS sc, f.status, "
        f"f.last_sequence FROM findings f WHERE {where} AND f.kind = ANY(%(kinds)s)", params,
    ):
        out[(r["t"], r["sc"])].comparisons.append(ComparisonFact(
            finding_id=r["finding_id"], township=r["t"], school=r["sc"],
            acted_on=r["status"] != "open" or r["finding_id"] in triggers, sequence=r["last_sequence"]))
    return dict(out)


def timeliness(conn: Any, scope: Scope, months: list[str], due_day: int, at: datetime) -> dict[str, list[bool | None]]:
    """Per report unit ('52', 'school:<id>'), for each sealed month of the period: submitted by the due day
    (True), late (False: submitted after it, or not submitted when the due day had passed by ``at``), or
    still in time (None)."""
    where = "code LIKE %(scope)s AND month = ANY(%(months)s) AND sealed_at < %(at)s"
    params: dict[str, Any] = {"scope": scope.jurisdiction + "%", "months": months, "at": at}
    if scope.schools is not None:
        where += " AND (school_id IS NULL OR school_id = ANY(%(schools)s))"
        params["schools"] = list(scope.schools)
    today = at.astimezone(CHINA).date()
    out: dict[str, list[bool | None]] = defaultdict(list)
    for r in conn.execute(f"SELECT unit, month, submitted_at FROM monthly_reports WHERE {where} ORDER BY month",
                          params):
        due = due_on(r["month"], due_day)
        sub = r["submitted_at"]
        if sub is not None and sub < at:
            out[r["unit"]].append(sub.astimezone(CHINA).date() <= due)
        else:
            out[r["unit"]].append(False if today > due else None)
    return dict(out)


def case_rows(view: View, scope: Scope, ids: list[str]) -> list[dict[str, Any]]:
    """The cases behind a figure: ids, places, stage, dates and the event position (no personal data)."""
    where, params = scope.where("l")
    params["ids"] = ids
    rows = view.conn.execute(
        "SELECT l.case_id, l.township_code, l.county_code, l.school_id, l.status, l.source, l.opened_at, "
        "l.returned_on, l.deadline_at, l.deadline_status, l.legal_step, l.gov_owners, l.edu_owners, l.last_topic, "
        f"l.last_sequence FROM ledger l WHERE {where} AND l.case_id = ANY(%(ids)s) ORDER BY l.opened_at, l.case_id",
        params).fetchall()
    for r in rows:
        r["status_label"] = labels.STAGES.get(r["status"], r["status"])
        labels.with_owners(r)
    return rows


def finding_rows(view: View, scope: Scope, ids: list[str]) -> list[dict[str, Any]]:
    """The comparison findings not acted on: ids, kind, places, day and event position (no personal data)."""
    where, params = scope.where("f")
    params["ids"] = ids
    rows = view.conn.execute(
        "SELECT f.finding_id, f.kind, f.township_code, f.school_id, f.found_on, f.status, f.last_sequence "
        f"FROM findings f WHERE {where} AND f.finding_id = ANY(%(ids)s) ORDER BY f.found_on, f.finding_id",
        params).fetchall()
    for r in rows:
        r["kind_label"] = labels.FINDINGS.get(r["kind"], r["kind"])
    return rows
