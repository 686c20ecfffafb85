"""The simulation: a term of a synthetic province driven day by day through the public APIs on a shared
simulated clock, with the ground truth kept beside it and reconciled against reporting at the end."""

from __future__ import annotations

import time
from datetime import timedelta

from simulator.casework import Casework
from simulator.clock import at
from simulator.options import Options, Plan, Stats
from simulator.reconcile import Reconciliation
from simulator.school_day import SchoolDays
from simulator.setup_province import ProvinceSetup
from simulator.supervision import Supervision
from simulator.transfers import Transfers

__all__ = ["Options", "Plan", "Simulation", "Stats"]


class Simulation(ProvinceSetup, SchoolDays, Transfers, Casework, Supervision, Reconciliation):
    """A term: the province set up, then every calendar day in turn (school days, weekends, month ends)."""

    def run_term(self) -> None:
        school_day_index = {d: i for i, d in enumerate(self.school_days)}
        for day in self.calendar_days:
            self.truth.comparisons(day)
            self.hook("morning", school_day_index.get(day, -1), day)
            if day in school_day_index:
                self.school_day(school_day_index[day], day)
                if self.progress is not None:
                    self.progress.update(1)
                    self.progress.set_postfix(cases=sum(len(s.cases) for s in self.truth.students.values()),
                                              out=len(self.plans), refresh=False)
            else:
                self.clock(at(day, 12))
            self.supervise(day)  # 督导考核: the directory, the inspection, the month's reports (on time, one late)
            nxt = day + timedelta(days=1)
            if nxt.month != day.month and day != self.calendar_days[-1]:
                self.clock(at(day, 23, 0))
                t = time.monotonic()
                self.barrier(f"end of {day:%Y-%m}")
                self.stats.timed("catch-up", t)
                self.snapshots[f"{day:%Y-%m}"] = self.truth.figures(at(nxt, 0))
