"""Scorecard use cases: a unit's card with the ranking of a level below it, the cases behind a figure, the
weights and targets in effect (and setting them from the province or a prefecture), and publishing a period."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from services.reporting.adapters import scorecards as facts
from services.reporting.adapters import dashboards, names
from services.reporting.adapters.queries import ReportingQueries, Scope, View
from services.reporting.application.reading import cut, scope_of
from services.reporting.domain import scorecards as rules
from services.reporting.domain.calendar import start_of
from services.reporting.domain.errors import NothingToShow, OutOfJurisdiction, ScorecardInputError
from services.runtime.auth import Actor

SETTERS = {"province_officer": 2, "prefecture_officer": 4}


def unit_key(code: str, school_id: str | None) -> str:
    """The monthly report unit of a scorecard unit ('52', 'school:<id>')."""
    return f"school:{school_id}" if school_id else code


class Scorecards:
    """Scorecards over the read models (queries), the configuration table and the clock."""

    def __init__(self, queries: ReportingQueries, config: facts.ScorecardConfig, clock: Any, due_day: int = 5,
                 app: Any = None, notice_rules: rules.NoticeRules | None = None) -> None:
        self.queries, self.config, self.clock, self.due_day, self.app = queries, config, clock, due_day, app
        self.notice_rules = notice_rules or rules.NoticeRules()

    def notice(self, actor: Actor, period: str, as_of: date | None = None) -> dict[str, Any]:
        """The scorecard part of a 通报 for the caller's jurisdiction: of the ranking of the level below it, the
        bottom units, the units below target and those vetoed (一票否决), as the notice rules say."""
        try:
            card = self.card(actor, actor.jurisdiction, None, period, None, as_of)
        except NothingToShow:
            return {"period": period, "ranking_level": None, "ranked": 0, "bottom": [], "below_target": [],
                    "vetoed": [], "rules": self.notice_rules.__dict__}
        lists = rules.notice_lists(card["ranking"], self.notice_rules)
        return {"period": period, "as_of": card["as_of"], "ranking_level": card["ranking_level"],
                "ranked": len(card["ranking"]), **lists,
                "rules": {k: list(v) if isinstance(v, tuple) else v for k, v in self.notice_rules.__dict__.items()}}

    # -- reads -----------------------------------------------------------------------------------
    def _at(self, period: str, as_of: date | None) -> tuple[date, datetime | None, list[str], datetime]:
        """The period's months, the day its figures stand on, the instant read (None: live), and the instant its
        monthly reports are judged at (as known on ``as_of`` or now: they fall due after the period)."""
        _, last, months = rules.period_bounds(period)
        today = self.clock.today()
        day = min(last, as_of or last, today)
        return day, cut(day, today), months, cut(as_of, today) or self.clock.now()

    def compute(self, view: View, scope: Any, root: str, months: list[str], day: date,
                judged_at: datetime) -> dict[str, dict[str, Any]]:
        """Every unit under ``root`` (itself, each level below, each school) with its figures and score."""
        leaves = facts.leaves(view, scope)
        rows = self.config.rows(view.conn)
        reports = facts.timeliness(view.conn, scope, months, self.due_day, judged_at)
        units: dict[tuple[str, str | None], list[rules.Leaf]] = {}
        for (township, school), leaf in leaves.items():
            if not township.startswith(root):
                continue
            for n in (2, 4, 6, 9):
                if len(township) >= n and len(township[:n]) >= len(root):
                    units.setdefault((township[:n], None), []).append(leaf)
            if school:
                units.setdefault((township, school), []).append(leaf)
        divisions = names.on(view.conn, [c for c, s in units if s is None], day)
        school_names = {r["school_id"]: r["name"] for r in view.conn.execute(
            "SELECT school_id, name FROM schools WHERE school_id = ANY(%s)", ([s for _, s in units if s],))}
        out = {}
        for (code, school), mine in units.items():
            config = rules.config_for(rows, code, day)
            card = rules.figures(mine, reports.get(unit_key(code, school), []), config)
            out[unit_key(code, school)] = {**dashboards.describe(code, school, school_names, divisions), **card}
        return out

    def card(self, actor: Actor, code: str, school_id: str | None, period: str, level: str | None,
             as_of: date | None) -> dict[str, Any]:
        """A unit's scorecard and the ranking of the units of ``level`` under it (default: the level below)."""
        self._inside(actor, code)
        day, at, months, judged = self._at(period, as_of)
        depth = rules.LEVELS.get(level) if level else None
        if level and depth is None:
            raise ScorecardInputError(f"未知的层级：{level}", "level")
        depth = depth or (12 if len(code) >= 9 else {2: 4, 4: 6, 6: 9}.get(len(code), 9))
        if school_id or depth <= len(code):
            depth = 0
        parent = code if school_id else dashboards.ancestors(code)[-2] if len(code) > 2 else code
        root = parent if parent.startswith(actor.jurisdiction) else code  # siblings too, when the caller sees them
        with self.queries.view(at) as view:
            units = self.compute(view, scope_of(actor), root, months, day, judged)
            mine = units.get(unit_key(code, school_id))
            if mine is None:
                raise NothingToShow(f"{code} 在 {period} 暂无考核数据")
            ranked = rules.rank([u for u in units.values() if depth and u["code"].startswith(code) and (
                (depth == 12 and u["level"] == "school") or (depth < 12 and u["school_id"] is None and
                                                                len(u["code"]) == depth))])
            peers = self._peers(units, mine)
        return {**mine, "period": period, "months": months, "as_of": day.isoformat(),
                "rank": peers.get("rank"), "ranked": peers.get("ranked"), "ranking": ranked,
                "ranking_level": next((k for k, v in rules.LEVELS.items() if v == depth), None),
                "labels": rules.LABELS, "positions": view.positions}

    @staticmethod
    def _peers(units: dict[str, dict[str, Any]], mine: dict[str, Any]) -> dict[str, Any]:
        """The unit's own rank among its siblings (the units of its level under its parent) in the same read."""
        same = [dict(u) for u in units.values() if u["level"] == mine["level"] and
                (mine["school_id"] is None) == (u["school_id"] is None) and len(u["code"]) == len(mine["code"])]
        for u in rules.rank(same):
            if u["code"] == mine["code"] and u["school_id"] == mine["school_id"]:
                return u
        return {}

    def cases(self, actor: Actor, code: str, school_id: str | None, period: str, figure: str,
              as_of: date | None) -> dict[str, Any]:
        """The cases (or comparison findings) behind one figure of a unit's scorecard."""
        if figure not in rules.FIGURES:
            raise ScorecardInputError(f"未知的考核指标：{figure}", "figure")
        self._inside(actor, code)
        day, at, months, judged = self._at(period, as_of)
        with self.queries.view(at) as view:
            scope = scope_of(actor)
            mine = self.compute(view, scope, code, months, day, judged).get(unit_key(code, school_id))
            if mine is None:
                raise NothingToShow(f"{code} 在 {period} 暂无考核数据")
            fig = mine["figures"][figure]
            if figure == "comparisons_acted_on":
                items = facts.finding_rows(view, scope, fig["findings"])
                kind = "findings"
            else:
                items = facts.case_rows(view, scope, fig["cases"])
                kind = "cases"
        return {"code": code, "school_id": school_id, "name": mine["name"], "period": period, "figure": figure,
                "label": rules.LABELS[figure], "value": fig["value"], "kind": kind, "items": items,
                "figure_positions": fig["positions"], "as_of": day.isoformat(), "positions": view.positions}

    # -- configuration ---------------------------------------------------------------------------
    def get_config(self, actor: Actor, code: str, on: date | None) -> dict[str, Any]:
        self._inside(actor, code)
        day = on or self.clock.today()
        config = rules.config_for(self.config.rows(), code, day)
        return {"code": code, "on": day.isoformat(), "weights": config.weights, "targets": config.targets,
                "version": config.version, "history": self.config.history(code)}

    def set_config(self, actor: Actor, code: str, effective_from: date, weights: dict[str, Any],
                   targets: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """A province officer sets the province's (or any code inside it), a prefecture officer its own."""
        self._inside(actor, code)
        if actor.role != "admin" and len(actor.jurisdiction) != SETTERS.get(actor.role):
            raise OutOfJurisdiction("只有省级、市（州）级可以设定考核权重和目标")
        rules.validate_config(weights, targets)
        return self.config.put(code, effective_from, weights, targets, actor.role, self.clock.now())

    # -- publishing ------------------------------------------------------------------------------
    def publish(self, period: str, root: str = "") -> int:
        """Publishes every unit's scorecard for a finished period once (ScorecardPublished); returns how many."""
        _, last, months = rules.period_bounds(period)
        at = start_of(last + timedelta(days=1))
        with self.queries.view(at if at <= self.clock.now() else None) as view:
            units = self.compute(view, Scope(root), root, months, last, self.clock.now())
        by_level: dict[tuple[str, bool], list[dict[str, Any]]] = {}
        for u in units.values():
            by_level.setdefault((u["level"], u["school_id"] is None), []).append(dict(u))
        now, new = self.clock.now().isoformat(), []
        for group in by_level.values():
            for u in rules.rank(group):
                if rules.scorecard_id(u["code"], u["school_id"], period) in self.app.repository:
                    continue
                new.append(rules.Scorecard(
                    code=u["code"], school_id=u["school_id"], level=u["level"], period=period, score=u["score"],
                    rank=u["rank"], ranked=u["ranked"], config_version=u["config_version"],
                    figures={k: {"value": f["value"], "score": f["score"]} for k, f in u["figures"].items()}, at=now))
        for i in range(0, len(new), 200):
            self.app.save(*new[i:i + 200])
        return len(new)

    @staticmethod
    def _inside(actor: Actor, code: str) -> None:
        """A scorecard ranks units against each other: only for units inside the caller's own jurisdiction."""
        if not code.startswith(actor.jurisdiction):
            raise OutOfJurisdiction(f"辖区 {code} 不在您的辖区 {actor.jurisdiction} 内")
