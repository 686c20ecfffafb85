"""What a simulation is told (Options), what it plans for a child who is out (Plan) and what it counts (Stats)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import date

from simulator.truth import FINDINGS, MEASURES

BARRIER_MEASURES = tuple(m for m in MEASURES if m not in FINDINGS) + ("cases_by_stage",)
# after a day's close casework needs its cases, not reporting's deadline clock (checked at month ends and the end)
DAILY_MEASURES = tuple(m for m in BARRIER_MEASURES if m != "overdue_deadlines")
OTHER_CAUSES = ("learning_difficulty", "working_away", "family", "poverty", "distance_or_conditions", "early_marriage")


@dataclass
class Options:
    counties: int = 2
    schools_per_county: int = 4
    students: int = 2000
    days: int = 20
    start: date = date(2026, 9, 14)
    seed: int = 7
    province: str = "52"
    threshold_days: int = 2
    batch_size: int = 10_000
    never_enrolled_per_county: int = 3
    # per school day, before the special-group (×4) and junior (×2) multipliers: 0.00005 is ~0.9 % a year for a
    # primary child outside the special groups and 1.8 % in junior grades, the ceilings of the 2016 prefecture plan
    # (DOMAIN.md), ~2.2 % of all children a year before persuasion; the tests use 0.0015 (a stress test)
    dropout_hazard: float = 0.00005
    illness_rate: float = 0.01
    persuasion_success: float = 0.35
    relapse_hazard: float = 0.01
    barrier_timeout: float = 90.0
    workers: int = 8  # concurrent API calls (independent cases, leaves, counties)
    transfer_lost_days: int = 10  # the province's own threshold (PUT comparison-rules), so a short term finds some
    missed_transitions_per_county: int = 2  # primary graduates of July never admitted to a junior school (小升初)
    admitted_per_county: int = 4  # primary graduates of July admitted to a junior school at the term's start
    transfer_hazard: float = 0.0003  # per school day: a student moves to another school of the county (转出 → 转入)
    census_not_dropout: float = 0.4  # census findings that verification shows are in school elsewhere
    # attendance's roster follows transfers, graduation and admission (not only enrolments), as it has since the
    # 2026-11-22 sessions: a child transferred out or graduated is no longer expected, an admitted one is checked in;
    # False drives an older stack (then no transfers, no admitted graduates)
    roster_follows_lifecycle: bool = True
    reporting_due_day: int = 5  # BAOXUE_REPORTING_DUE_DAY of the stack: monthly reports are due by this day


@dataclass
class Plan:
    """What will happen to a child who is out: why, and what the people working the case will find."""

    kind: str  # dropout | moved | severe | ill
    causes: tuple[str, ...] = ()
    until: date | None = None  # ill: last day absent
    back_on: date | None = None  # persuaded: first day back


@dataclass
class Stats:
    checkins: int = 0
    leaves: int = 0
    closes: int = 0
    transfers: int = 0
    barrier_waits: list[float] = field(default_factory=list)
    slowest_waits: list[tuple[float, str]] = field(default_factory=list)  # the three longest catch-ups, labelled
    barrier_timeouts: list[str] = field(default_factory=list)
    absent_reported: int = 0
    absent_expected: int = 0
    absence_diffs: list[str] = field(default_factory=list)  # children a close counted otherwise than expected
    api_errors: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds per phase of a school day
    setup_phases: dict[str, float] = field(default_factory=dict)  # wall seconds per step of the setup

    def timed(self, phase: str, started: float, of: dict[str, float] | None = None) -> float:
        """Adds the time since `started` to a phase; returns now (the next phase's start)."""
        now, of = time.monotonic(), self.phases if of is None else of
        of[phase] = of.get(phase, 0.0) + now - started
        return now


def evidence(what: str) -> list[dict[str, str]]:
    return [{"kind": "photo", "sha256": hashlib.sha256(what.encode()).hexdigest(), "location": f"s3://sim/{what}"}]
