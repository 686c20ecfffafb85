"""Scorecards (考核): each unit's figures for a period against its targets, a weighted score and a rank among the
units of its level; every figure keeps the cases (or comparisons) behind it and the event positions it reflects.

Pure rules: the adapter hands in the facts of one snapshot (cases, comparisons, enrolments per leaf, monthly
report timeliness) and the configuration in effect; nothing here reads a table or a clock.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date
from statistics import median
from typing import Any, Iterable

from eventsourcing.domain import Aggregate, event

from services.reporting.domain.errors import ScorecardInputError
from services.reporting.domain.stages import CONFIRMED_STATUSES, OPEN_STATUSES

NAMESPACE = uuid.UUID("2b7c51a4-0d3e-4f0a-9c1e-6d2f3a4b5c6d")
LEVELS = {"province": 2, "prefecture": 4, "county": 6, "township": 9, "school": 12}
FIGURES = ("dropout_rate", "return_rate", "median_days_to_return", "overdue_deadlines", "unowned_cases",
           "report_on_time", "comparisons_acted_on")
LABELS = {
    "dropout_rate": "辍学率", "return_rate": "劝返复学率", "median_days_to_return": "劝返复学天数（中位数）",
    "overdue_deadlines": "逾期未办结期限", "unowned_cases": "双线责任人未落实个案", "report_on_time": "月报按时报送",
    "comparisons_acted_on": "比对核查处置率",
}
DEFAULT_WEIGHTS = {"dropout_rate": 30, "return_rate": 20, "median_days_to_return": 10, "overdue_deadlines": 15,
                   "unowned_cases": 10, "report_on_time": 10, "comparisons_acted_on": 5}
DEFAULT_TARGETS = {"dropout_rate": 0.01, "return_rate": 1.0, "median_days_to_return": 30.0}
TERMS = {"spring": ((2, 1), (7, 31)), "autumn": ((9, 1), (1, 31))}


def scorecard_id(code: str, school_id: str | None, period: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{code}|{school_id or ''}|{period}")


def period_bounds(period: str) -> tuple[date, date, list[str]]:
    """'2026-11' or '2026-autumn' (1 Sep – 31 Jan) / '2026-spring' (1 Feb – 31 Jul) → first day, last day, months."""
    year, _, part = period.partition("-")
    if not year.isdigit() or len(year) != 4:
        raise ScorecardInputError("period 应为 YYYY-MM 或 YYYY-spring / YYYY-autumn", "period")
    y = int(year)
    if part in TERMS:
        (m1, d1), (m2, d2) = TERMS[part]
        first, last = date(y, m1, d1), date(y + (m2 < m1), m2, d2)
    elif part.isdigit() and len(part) == 2 and 1 <= int(part) <= 12:
        first = date(y, int(part), 1)
        nxt = date(y + (first.month == 12), first.month % 12 + 1, 1)
        last = date.fromordinal(nxt.toordinal() - 1)
    else:
        raise ScorecardInputError("period 应为 YYYY-MM 或 YYYY-spring / YYYY-autumn", "period")
    months, m = [], first
    while m <= last:
        months.append(m.strftime("%Y-%m"))
        m = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    return first, last, months


# -- configuration: weights and targets per jurisdiction prefix, versioned with effective-from dates ---------
@dataclass(frozen=True)
class ConfigRow:
    code: str
    effective_from: date
    version: int
    weights: dict[str, float]
    targets: dict[str, float]


def validate_config(weights: dict[str, Any], targets: dict[str, Any]) -> None:
    """Names the first field that is not a known figure or not a sensible number (422)."""
    for name, value in weights.items():
        if name not in FIGURES:
            raise ScorecardInputError(f"未知的考核指标：{name}", f"weights.{name}")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 100:
            raise ScorecardInputError(f"权重应为 0–100 的数：{name}", f"weights.{name}")
    for name, value in targets.items():
        if name not in DEFAULT_TARGETS:
            raise ScorecardInputError(f"未知的目标值：{name}", f"targets.{name}")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or (
                name != "median_days_to_return" and value > 1):
            raise ScorecardInputError(f"目标值不合理：{name}", f"targets.{name}")


@dataclass(frozen=True)
class Config:
    weights: dict[str, float]
    targets: dict[str, float]
    version: str


def config_for(rows: Iterable[ConfigRow], code: str, day: date) -> Config:
    """Defaults, then for each prefix of the code from the shortest the row in effect on the day (latest
    effective-from, then latest version) overrides what it names."""
    weights, targets, used = dict(DEFAULT_WEIGHTS), dict(DEFAULT_TARGETS), []
    best: dict[str, ConfigRow] = {}
    for r in rows:
        if code.startswith(r.code) and r.effective_from <= day:
            b = best.get(r.code)
            if b is None or (r.effective_from, r.version) > (b.effective_from, b.version):
                best[r.code] = r
    for prefix in sorted(best, key=len):
        r = best[prefix]
        weights.update(r.weights)
        targets.update(r.targets)
        used.append(f"{prefix or '*'}@{r.version}")
    return Config(weights, targets, "+".join(used) or "default")


def config_hash(weights: dict[str, Any], targets: dict[str, Any]) -> str:
    return json.dumps({"w": weights, "t": targets}, sort_keys=True)


# -- facts and figures ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaseFact:
    """What a scorecard needs of one case (a ledger row in the snapshot)."""

    case_id: str
    township: str
    school: str
    status: str
    excluded: bool
    close_reason: str | None
    opened_on: date
    returned_on: date | None
    overdue: bool
    gov_owned: bool
    edu_owned: bool
    sequence: int
    topic: str


@dataclass(frozen=True)
class ComparisonFact:
    """A registry comparison finding (失学, 转出未转入, 小升初未衔接) and whether anyone acted on it."""

    finding_id: str
    township: str
    school: str
    acted_on: bool
    sequence: int


@dataclass
class Leaf:
    enrolled: int = 0
    cases: list[CaseFact] = field(default_factory=list)
    comparisons: list[ComparisonFact] = field(default_factory=list)


def returned(c: CaseFact) -> bool:
    return c.status == "returned" or (c.status == "closed" and c.close_reason == "returned")


def confirmed(c: CaseFact) -> bool:
    return c.status in CONFIRMED_STATUSES and not c.excluded


RULES = {
    "dropout_rate": confirmed,
    "return_rate": returned,
    "median_days_to_return": lambda c: returned(c) and c.returned_on is not None,
    "overdue_deadlines": lambda c: c.overdue and c.status in ("confirmed", "legal", "suspected"),
    "unowned_cases": lambda c: c.status in OPEN_STATUSES and not (c.gov_owned and c.edu_owned),
}


def _positions(items: Iterable[Any], topic: str | None = None) -> dict[str, int]:
    """The highest source sequence per topic among the rows behind a figure."""
    out: dict[str, int] = {}
    for i in items:
        t = getattr(i, "topic", topic or "baoxue.registry.v1")
        out[t] = max(out.get(t, 0), i.sequence)
    return out


def figures(leaves: list[Leaf], reports: list[bool | None], config: Config) -> dict[str, Any]:
    """One unit's figures from its leaves: value, target, sub-score 0–100, the ids behind it and positions."""
    cases = [c for leaf in leaves for c in leaf.cases]
    comps = [f for leaf in leaves for f in leaf.comparisons]
    enrolled = sum(leaf.enrolled for leaf in leaves)
    t = config.targets
    behind = {name: [c for c in cases if rule(c)] for name, rule in RULES.items()}
    n_conf, n_ret = len(behind["dropout_rate"]), len(behind["return_rate"])
    open_cases = [c for c in cases if c.status in OPEN_STATUSES]
    out: dict[str, Any] = {}

    rate = round(n_conf / enrolled, 6) if enrolled else None
    out["dropout_rate"] = _fig(rate, t["dropout_rate"], 100.0 if not rate else min(1.0, t["dropout_rate"] / rate) * 100,
                               behind["dropout_rate"], numerator=n_conf, denominator=enrolled)
    ret = round(n_ret / (n_ret + n_conf), 6) if n_ret + n_conf else None
    out["return_rate"] = _fig(ret, t["return_rate"], 100.0 if ret is None or not t["return_rate"] else
                              min(1.0, ret / t["return_rate"]) * 100, behind["return_rate"] + behind["dropout_rate"],
                              numerator=n_ret, denominator=n_ret + n_conf)
    days = [(c.returned_on - c.opened_on).days for c in behind["median_days_to_return"]]  # type: ignore[operator]
    med = median(days) if days else None
    out["median_days_to_return"] = _fig(med, t["median_days_to_return"], 100.0 if not med else
                                        min(1.0, t["median_days_to_return"] / med) * 100,
                                        behind["median_days_to_return"], numerator=len(days))
    for name in ("overdue_deadlines", "unowned_cases"):
        n = len(behind[name])
        out[name] = _fig(n, 0, 100.0 if not open_cases else max(0.0, 1 - n / len(open_cases)) * 100, behind[name],
                         numerator=n, denominator=len(open_cases))
    judged = [r for r in reports if r is not None]
    on_time = sum(1 for r in judged if r)
    share = round(on_time / len(reports), 6) if reports else None
    out["report_on_time"] = {**_fig(share, 1.0, 100.0 if share is None else share * 100, [], numerator=on_time,
                                    denominator=len(reports)),
                             "late": len(judged) - on_time, "waiting": len(reports) - len(judged)}
    acted = [f for f in comps if f.acted_on]
    share = round(len(acted) / len(comps), 6) if comps else None
    out["comparisons_acted_on"] = {
        **_fig(share, 1.0, 100.0 if share is None else share * 100, [], numerator=len(acted), denominator=len(comps)),
        "findings": sorted(f.finding_id for f in comps if not f.acted_on), "positions": _positions(comps)}
    weights = {k: float(config.weights.get(k, 0)) for k in FIGURES}
    total = sum(weights.values())
    score = round(sum(weights[k] * out[k]["score"] for k in FIGURES) / total, 2) if total else 0.0
    return {"figures": out, "score": score, "enrolled": enrolled, "open_cases": len(open_cases),
            "weights": weights, "targets": dict(t), "config_version": config.version}


def _fig(value: Any, target: Any, score: float, rows: list[CaseFact], **counts: Any) -> dict[str, Any]:
    return {"value": value, "target": target, "score": round(score, 2), **counts,
            "cases": sorted({c.case_id for c in rows}), "positions": _positions(rows)}


def rank(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Standard competition ranking by score (1, 2, 2, 4), ties in code order; sets ``rank`` and ``ranked``."""
    ordered = sorted(units, key=lambda u: (-u["score"], u["code"], u.get("school_id") or ""))
    for i, u in enumerate(ordered):
        u["rank"] = ordered[i - 1]["rank"] if i and ordered[i - 1]["score"] == u["score"] else i + 1
        u["ranked"] = len(ordered)
    return ordered


class Scorecard(Aggregate):
    """A unit's published scorecard for a period (published once, when the period's reports are due)."""

    @staticmethod
    def create_id(code: str, school_id: str | None, period: str, **_: Any) -> uuid.UUID:
        return scorecard_id(code, school_id, period)

    @event("Published")
    def __init__(self, code: str, school_id: str | None, level: str, period: str, score: float, rank: int,
                 ranked: int, config_version: str, figures: dict[str, Any], at: str) -> None:
        self.code, self.school_id, self.level, self.period = code, school_id, level, period
        self.score, self.rank, self.ranked, self.config_version = score, rank, ranked, config_version
        self.figures, self.at = figures, at


# -- 通报 from scorecards: units below target, the bottom of the ranking, 一票否决 ------------------------------
@dataclass(frozen=True)
class NoticeRules:
    """What a scorecard notice (通报) lists of a ranking: the ``bottom`` units (ties included), the units missing
    the target of any of ``figures``, and the units vetoed (一票否决) because they miss one of ``vetoes``."""

    bottom: int = 3
    figures: tuple[str, ...] = ("dropout_rate", "return_rate", "report_on_time")
    vetoes: tuple[str, ...] = ("dropout_rate",)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> "NoticeRules":
        """From the setting's JSON; names the first bad key (a startup error, not a request's)."""
        unknown = set(raw) - {"bottom", "figures", "vetoes"}
        if unknown:
            raise ValueError(f"scorecard notice: unknown keys {sorted(unknown)}")
        rules = cls(bottom=int(raw.get("bottom", cls.bottom)), figures=tuple(raw.get("figures", cls.figures)),
                    vetoes=tuple(raw.get("vetoes", cls.vetoes)))
        bad = [f for f in (*rules.figures, *rules.vetoes) if f not in FIGURES]
        if bad or rules.bottom < 0:
            raise ValueError(f"scorecard notice: unknown figures {bad} or a negative bottom")
        return rules


def misses(figure: dict[str, Any]) -> bool:
    """A figure misses its target when its sub-score is below 100 (every sub-score is 100 exactly on target)."""
    return figure["value"] is not None and figure["score"] < 100


def notice_lists(ranked: list[dict[str, Any]], rules: NoticeRules) -> dict[str, list[dict[str, Any]]]:
    """The three lists of a notice from a ranking (``rank`` applied): each unit with the figures that put it there."""
    def row(u: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
        return {"code": u["code"], "school_id": u["school_id"], "name": u.get("name"), "level": u["level"],
                "score": u["score"], "rank": u["rank"], "ranked": u["ranked"],
                "figures": [{"figure": n, "label": LABELS[n], "value": u["figures"][n]["value"],
                             "target": u["figures"][n]["target"]} for n in names]}

    n = min(rules.bottom, len(ranked) - 1)  # never the whole ranking: with two units, the last one
    last = ranked[-n]["rank"] if n > 0 else None
    bottom = [row(u, [f for f in FIGURES if misses(u["figures"][f])]) for u in ranked
              if last is not None and last > 1 and u["rank"] >= last]  # ties with the cut are listed too
    below = [row(u, missed) for u in ranked if (missed := [n for n in rules.figures if misses(u["figures"][n])])]
    vetoed = [row(u, missed) for u in ranked if (missed := [n for n in rules.vetoes if misses(u["figures"][n])])]
    return {"bottom": bottom, "below_target": below, "vetoed": vetoed}
