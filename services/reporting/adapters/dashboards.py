"""Figures per level (province 2 → prefecture 4 → county 6 → township 9 → school), all from one snapshot.

Everything is counted once per leaf (a school in a township, or a township's cases without a school) and
summed upwards, so a level's totals are the sums of the levels below at the same event positions. Rates and
the median are computed at each level from its own sums and durations.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.reporting.adapters import names as division_names
from services.reporting.adapters.queries import Scope, View
from services.reporting.domain import counting, labels
from services.reporting.domain.calendar import start_of
from services.reporting.domain.stages import CONFIRMED_STATUSES, OPEN_STATUSES
from services.runtime.clock import CHINA

COUNTS = (
    "enrolled_primary", "enrolled_junior", "enrolled", "cases", "open_suspected_dropouts", "confirmed_dropouts",
    "confirmed_primary", "confirmed_junior", "returned", "closed", "not_dropout", "excluded", "overdue_deadlines",
    "attendance_suspected_open", "out_of_school", "transfer_lost", "transition_missed",
    "special_group_enrolled", "special_group_open_cases",
)
LEVEL_NAMES = {2: "province", 4: "prefecture", 6: "county", 9: "township"}
DEFAULT_TARGETS = {"dropout_rate_primary": 0.01, "dropout_rate_junior": 0.02, "return_rate": 1.0}


@dataclass
class Unit:
    """Additive figures of one unit (a leaf, or any level summed from leaves)."""

    counts: Counter = field(default_factory=Counter)
    by_stage: Counter = field(default_factory=Counter)
    by_cause: Counter = field(default_factory=Counter)
    special_groups: Counter = field(default_factory=Counter)
    groups_enrolled: Counter = field(default_factory=Counter)
    groups_open_cases: Counter = field(default_factory=Counter)
    return_days: Counter = field(default_factory=Counter)  # days to return → cases

    def add(self, other: "Unit") -> None:
        self.counts.update(other.counts)
        self.by_stage.update(other.by_stage)
        self.by_cause.update(other.by_cause)
        self.special_groups.update(other.special_groups)
        self.groups_enrolled.update(other.groups_enrolled)
        self.groups_open_cases.update(other.groups_open_cases)
        self.return_days.update(other.return_days)

    def figures(self, targets: dict[str, float]) -> dict[str, Any]:
        c = {k: self.counts.get(k, 0) for k in COUNTS}
        rate = lambda n, d: round(n / d, 6) if d else None  # noqa: E731
        primary, junior = rate(c["confirmed_primary"], c["enrolled_primary"]), rate(c["confirmed_junior"], c["enrolled_junior"])
        ret = rate(c["returned"], c["returned"] + c["confirmed_dropouts"])
        return {
            **c,
            "dropout_rate_primary": primary, "dropout_rate_junior": junior, "return_rate": ret,
            "median_days_to_return": _median(self.return_days),
            "cases_by_stage": dict(sorted(self.by_stage.items())), "cases_by_cause": dict(sorted(self.by_cause.items())),
            "special_groups": dict(sorted(self.special_groups.items())),
            "special_groups_enrolled": dict(sorted(self.groups_enrolled.items())),
            "special_groups_open_cases": dict(sorted(self.groups_open_cases.items())),
            "targets": targets,
            "meets_targets": {
                "dropout_rate_primary": primary is None or primary < targets["dropout_rate_primary"],
                "dropout_rate_junior": junior is None or junior < targets["dropout_rate_junior"],
                "return_rate": ret is None or ret >= targets["return_rate"],
            },
        }


def _median(histogram: Counter) -> float | int | None:
    """statistics.median of the values a histogram (value → how many) stands for."""
    values = sorted((v, n) for v, n in histogram.items() if n > 0)
    total = sum(n for _, n in values)
    if not total:
        return None

    def at(index: int) -> int:
        for v, n in values:
            if index < n:
                return v
            index -= n
        raise IndexError(index)

    half = total // 2
    return at(half) if total % 2 else (at(half - 1) + at(half)) / 2


Leaf = tuple[str, str]  # (township code, school id or "")


def leaves(view: View, scope: Scope) -> tuple[dict[Leaf, Unit], dict[str, str]]:
    """Every leaf's figures inside the scope, and school names."""
    units: dict[Leaf, Unit] = defaultdict(Unit)
    conn = view.conn
    s_where, params = scope.where("s")
    for r in conn.execute(
        "SELECT substr(s.township_code, 1, 9) AS t, coalesce(s.school_id, '') AS sc, "
        "count(*) FILTER (WHERE s.grade <= 6) AS p, count(*) FILTER (WHERE s.grade >= 7) AS j "
        f"FROM students s WHERE {s_where} AND s.residency = 'resident' AND s.enrolment IN ('enrolled', 'suspended') "
        "GROUP BY 1, 2", params,
    ):
        u = units[(r["t"], r["sc"])]
        u.counts.update(enrolled_primary=r["p"], enrolled_junior=r["j"], enrolled=r["p"] + r["j"])
    groups = _groups_on(conn, scope, view.day)
    for r in conn.execute(
        "SELECT substr(s.township_code, 1, 9) AS t, coalesce(s.school_id, '') AS sc, s.student_id "
        f"FROM students s JOIN special_groups g USING (student_id) WHERE {s_where} AND s.residency = 'resident' "
        "AND s.enrolment IN ('enrolled', 'suspended')", scope.where("s")[1],
    ):
        mine = groups.get(r["student_id"])
        if mine:
            u = units[(r["t"], r["sc"])]
            u.counts["special_group_enrolled"] += 1
            u.groups_enrolled.update(mine)
    l_where, params = scope.where("l")
    params["now"] = view.now
    for r in conn.execute(
        "SELECT substr(l.township_code, 1, 9) AS t, coalesce(l.school_id, '') AS sc, l.status, l.causes, st.grade, "
        "l.opened_at, l.returned_on, l.close_reason, l.excluded, l.outcome, l.student_id, "
        "(l.deadline_status = 'overdue' OR (l.deadline_status = 'pending' AND l.deadline_at < %(now)s)) AS overdue "
        f"FROM ledger l LEFT JOIN students st USING (student_id) WHERE {l_where}", params,
    ):
        u = units[(r["t"], r["sc"])]
        status = r["status"]
        u.counts["cases"] += 1
        u.by_stage[status] += 1
        if status == "suspected":
            u.counts["open_suspected_dropouts"] += 1
        if status in CONFIRMED_STATUSES and not r["excluded"]:
            u.counts["confirmed_dropouts"] += 1
            if r["grade"] is not None:
                u.counts["confirmed_primary" if r["grade"] <= 6 else "confirmed_junior"] += 1
        if status == "returned" or (status == "closed" and r["close_reason"] == "returned"):
            u.counts["returned"] += 1
            if r["returned_on"] is not None:
                u.return_days[(r["returned_on"] - r["opened_at"].astimezone(CHINA).date()).days] += 1
        mine = groups.get(r["student_id"])
        if mine and status in OPEN_STATUSES:
            u.counts["special_group_open_cases"] += 1
            u.groups_open_cases.update(mine)
        u.counts["closed"] += status == "closed"
        u.counts["not_dropout"] += r["outcome"] == "not_dropout"
        u.counts["excluded"] += bool(r["excluded"])
        if r["overdue"] and status in ("confirmed", "legal", "suspected"):
            u.counts["overdue_deadlines"] += 1
        if r["outcome"] == "dropout":
            for cause in (r["causes"] or "").split(","):
                if cause:
                    u.by_cause[cause] += 1
    d_where, params = scope.where("d")
    for r in conn.execute(
        "SELECT substr(d.township_code, 1, 9) AS t, coalesce(d.school_id, '') AS sc, count(*) AS n "
        f"FROM suspected d WHERE {d_where} AND d.status = 'open' GROUP BY 1, 2", params,
    ):
        units[(r["t"], r["sc"])].counts["attendance_suspected_open"] += r["n"]
    f_where, params = scope.where("f")
    for r in conn.execute(
        "SELECT substr(f.township_code, 1, 9) AS t, coalesce(f.school_id, '') AS sc, f.kind, f.special_groups, "
        f"f.student_id FROM findings f WHERE {f_where} AND f.status = 'open'", params,
    ):
        u = units[(r["t"], r["sc"])]
        u.counts[r["kind"]] += 1
        published = groups.get(r["student_id"])  # the child's groups from the registry, else the finding's own
        u.special_groups.update(published if published is not None else
                                [g for g in (r["special_groups"] or "").split(",") if g])
    c_where, params = scope.where("s")
    names = {}
    for r in conn.execute(
        f"SELECT s.school_id, s.name, substr(s.township_code, 1, 9) AS t FROM schools s WHERE {c_where}", params
    ):
        names[r["school_id"]] = r["name"]
        units[(r["t"], r["school_id"])]  # a known school counts zero rather than being absent
    return _moved(conn, dict(units), scope, view.day), names


def _moved(conn: Any, units: dict[Leaf, Unit], scope: Scope, day: date) -> dict[Leaf, Unit]:
    """A school that moved township (乡镇撤并) counts in its township valid on the day."""
    moves: dict[str, list] = defaultdict(list)
    for r in conn.execute("SELECT * FROM school_moves"):
        moves[r["school_id"]].append(r)
    if not moves:
        return units
    out: dict[Leaf, Unit] = defaultdict(Unit)
    for (township, school), unit in units.items():
        if school in moves:
            ordinal = day.toordinal()
            township = next(t for a, b, t in counting.timeline(moves[school]) if a <= ordinal < b)[:9]
            if not township.startswith(scope.jurisdiction):
                continue
        out[(township, school)].add(unit)
    return dict(out)


def _groups_on(conn: Any, scope: Scope, day: date) -> dict[str, list[str]]:
    """Each child's special groups valid on the day (since ≤ day < until), for children known to reporting."""
    s_where, params = scope.where("s")
    l_where, _ = scope.where("l")
    f_where, _ = scope.where("f")
    out: dict[str, list[str]] = {}
    iso = day.isoformat()
    for r in conn.execute(
        "SELECT g.student_id, g.detail FROM special_groups g WHERE g.student_id IN ("
        f"SELECT s.student_id FROM students s WHERE {s_where} UNION SELECT l.student_id FROM ledger l WHERE {l_where} "
        f"UNION SELECT f.student_id FROM findings f WHERE {f_where})", params,
    ):
        out[r["student_id"]] = sorted({g["group"] for g in json.loads(r["detail"] or "[]")
                                       if g["since"] <= iso and (g["until"] is None or g["until"] > iso)})
    return out


def targets_for(code: str, configured: dict[str, dict[str, float]]) -> dict[str, float]:
    """Targets for a jurisdiction: defaults, overridden by configured prefixes from shortest to longest."""
    result = dict(DEFAULT_TARGETS)
    for prefix in sorted(configured, key=len):
        if code.startswith(prefix):
            result.update(configured[prefix])
    return result


def unit_of(units: dict[Leaf, Unit], code: str, school_id: str | None = None) -> Unit:
    total = Unit()
    for (township, school), unit in units.items():
        if township.startswith(code) and (school_id is None or school == school_id):
            total.add(unit)
    return total


def children_of(units: dict[Leaf, Unit], code: str) -> list[tuple[str, str | None]]:
    """The next level down: (code, None) for jurisdictions, (township, school id) under a township."""
    if len(code) >= 9:
        return sorted({(t, s) for t, s in units if t.startswith(code)}, key=lambda k: k[1])
    step = {2: 4, 4: 6, 6: 9}.get(len(code), len(code) + 2)
    return sorted({(t[:step], None) for t, _ in units if t.startswith(code)})


def describe(code: str, school_id: str | None, names: dict[str, str],
             divisions: dict[str, str] | None = None) -> dict[str, Any]:
    """A unit's identity: code, level and name (a division's name valid on the view's day, else its code)."""
    if school_id is not None:
        return {"code": code, "school_id": school_id or None, "level": "school", "level_label": "学校",
                "name": names.get(school_id, "未关联学校的个案" if not school_id else school_id)}
    level = LEVEL_NAMES.get(len(code), "area")
    label = labels.LEVELS.get(len(code), "辖区")
    name = (divisions or {}).get(code)
    return {"code": code, "school_id": None, "level": level, "level_label": label,
            "name": name or f"{label} {code}", "division_name": name}


def ancestors(code: str) -> list[str]:
    """The codes above and including a code (52 → 5201 → 520102 → 520102001)."""
    return [code[:n] for n in (2, 4, 6, 9) if len(code) >= n]


def dashboard(view: View, scope: Scope, code: str, school_id: str | None,
              configured_targets: dict[str, dict[str, float]]) -> dict[str, Any] | None:
    """One unit's figures with those of the level below; None when nothing is known of it."""
    read = counted(view, scope, code, school_id)
    if read is None:
        units, names = leaves(view, scope)
        mine = {k: u for k, u in units.items() if k[0].startswith(code) and (school_id is None or k[1] == school_id)}
        if not mine:
            return None
        below = [] if school_id is not None else children_of(mine, code)
        total = unit_of(units, code, school_id)
        parts = [(c, s, unit_of(units, c, s)) for c, s in below]
    elif not read:
        return None
    else:
        total, parts, names = read
        below = [(c, s) for c, s, _ in parts]
    divisions = division_names.on(view.conn, [*ancestors(code), *(c for c, s in below if s is None)], view.day)
    targets = targets_for(code, configured_targets)
    children = [
        {**describe(c, s, names, divisions), "figures": unit.figures(targets_for(c, configured_targets))}
        for c, s, unit in parts
    ]
    crumbs = [describe(a, None, names, divisions) for a in ancestors(code)]
    return {**describe(code, school_id, names, divisions), "figures": total.figures(targets),
            "children": children, "breadcrumbs": crumbs, "names_on": view.day.isoformat(),
            "positions": view.positions}


MEASURES = {"stage": "by_stage", "cause": "by_cause", "special_groups": "special_groups",
            "groups_enrolled": "groups_enrolled", "groups_open_cases": "groups_open_cases"}


def counted(view: View, scope: Scope, code: str, school_id: str | None) -> Any:
    """A live unit and its children read from the counters by key: (total, [(code, school, unit)], school names);
    () when nothing is known of it; None when the counters cannot answer (time travel, a scope narrower than the
    unit, codes shorter than a township's) and the rows are counted instead."""
    if view.at is not None or scope.schools is not None or not code.startswith(scope.jurisdiction):
        return None
    if school_id is not None and "\x00" in school_id:
        return ()  # no school has such an id (and PostgreSQL text cannot hold it)
    target = code if school_id is None else f"{code}|{school_id}"
    day = view.day.toordinal()
    found: dict[str, Unit] = defaultdict(Unit)
    exists: Counter = Counter()
    for r in view.conn.execute(
        "SELECT unit, measure, key, sum(n)::bigint AS n FROM dashboard_counts WHERE (unit = %(u)s OR parent = %(u)s) "
        "AND since <= %(d)s AND until > %(d)s GROUP BY unit, measure, key", {"u": target, "d": day},
    ):
        n, measure, key = r["n"], r["measure"], r["key"]
        if not n:
            continue
        u = found[r["unit"]]
        if measure == counting.ROWS:
            exists[r["unit"]] += n
        elif measure == counting.IRREGULAR:
            return None
        elif measure == "return_days":
            u.return_days[int(key)] += n
        elif measure in MEASURES:
            getattr(u, MEASURES[measure])[key] += n
        else:
            u.counts[measure] += n
    if exists[target] <= 0:
        return ()
    _due_today(view, found)
    parts = []
    for unit in sorted((u for u in found if u != target and exists[u] > 0),
                       key=lambda u: u.split("|", 1)[1] if "|" in u else u):
        c, _, s = unit.partition("|")
        parts.append((c, s if "|" in unit else None, found[unit]))
    ids = [s for _, s, _ in parts if s] + ([school_id] if school_id else [])
    names = {r["school_id"]: r["name"] for r in view.conn.execute(
        "SELECT school_id, name FROM schools WHERE school_id = ANY(%s)", (ids,))} if ids else {}
    return found[target], parts, names


def _due_today(view: View, found: dict[str, Unit]) -> None:
    """Pending deadlines of the view's own day are overdue from their instant (earlier days are in the counters)."""
    day = view.day
    rows = view.conn.execute(
        "SELECT township_code, school_id FROM ledger WHERE deadline_status = 'pending' AND deadline_at >= %s "
        "AND deadline_at < %s AND status = ANY(%s)", (start_of(day), view.now, list(counting.OVERDUE_STATUSES)),
    ).fetchall()
    if not rows:
        return
    schools = list({r["school_id"] for r in rows if r["school_id"]})
    moves: dict[str, list] = defaultdict(list)
    for r in view.conn.execute("SELECT * FROM school_moves WHERE school_id = ANY(%s)", (schools,)):
        moves[r["school_id"]].append(r)
    leaf: Counter = Counter()
    d = day.toordinal()
    entries = [((r["township_code"] or "")[:9], r["school_id"] or "", "overdue_deadlines", "", d, d + 1) for r in rows]
    counting.relocate(entries, {k: counting.timeline(v) for k, v in moves.items()}, leaf)
    for (unit, *_), (_, n) in counting.expand(leaf).items():
        if unit in found:
            found[unit].counts["overdue_deadlines"] += n


def all_units(view: View, scope: Scope, configured_targets: dict[str, dict[str, float]]) -> dict[str, dict[str, Any]]:
    """Figures of every jurisdiction and school inside the scope from one read (monthly reports seal these)."""
    units, names = leaves(view, scope)
    totals: dict[tuple[str, str | None], Unit] = defaultdict(Unit)
    for (township, school), unit in units.items():
        for n in (2, 4, 6, 9):
            if len(township) >= n and township[:n].startswith(scope.jurisdiction):
                totals[(township[:n], None)].add(unit)
        if school:
            totals[(township, school)].add(unit)
    divisions = division_names.on(view.conn, [c for c, s in totals if s is None], view.day)
    return {
        (f"school:{school}" if school else code): {
            **describe(code, school, names, divisions), "figures": unit.figures(targets_for(code, configured_targets)),
        }
        for (code, school), unit in totals.items()
    }
