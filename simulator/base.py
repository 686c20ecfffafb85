"""The state a simulation shares between its phases, and the helpers every phase uses (workers, tokens, clock)."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any, Callable

from simulator.api import Api
from simulator.clock import at
from simulator.options import Options, Plan, Stats
from simulator.province import Child, County, Generator
from simulator.truth import Truth


class SimulationBase:
    """A term's state: the province, the truth beside it, plans, case work, figures; phases are its subclasses."""

    def __init__(self, api: Api, options: Options, set_clock: Callable[[datetime], None],
                 hooks: Any = None, progress: Any = None) -> None:
        self.api, self.o, self.set_clock = api, options, set_clock
        self.hooks = hooks
        self.progress = progress
        self.truth = Truth(options.threshold_days)
        self.gen = Generator(options.seed, options.start.year if options.start.month >= 9 else options.start.year - 1)
        self.rng = self.gen.rng
        self.run = uuid.UUID(int=self.rng.getrandbits(128)).hex[:4].upper()
        self.counties: list[County] = []
        self.children: dict[str, Child] = {}
        self.plans: dict[str, Plan] = {}
        self.case_work: dict[int, dict[str, Any]] = {}  # id(CaseTruth) -> work state
        self.stats = Stats()
        self.now = at(options.start - timedelta(days=1), 9)
        self.snapshots: dict[str, dict[str, dict[str, Any]]] = {}
        self.calendar_days: list[date] = []
        self.school_days: list[date] = []
        self.pool = ThreadPoolExecutor(max(1, options.workers))
        self.truth_lock = threading.Lock()  # the truth's lists are rebuilt by transfers running in the pool
        self.lifecycle = options.roster_follows_lifecycle
        self.census: dict[str, Child] = {}  # student id of a never-enrolled child -> the child
        self.moving: dict[str, tuple[Any, int, date]] = {}  # transferred out, to be transferred in: school, grade, on
        self.roster_waits: list[tuple[str, str, str, bool]] = []  # school, student, county, on it: before next roll
        self.supervision: dict[str, Any] = {  # 督导考核 (supervision.py): what was done, read back at the end
            "inspection": None, "findings": {}, "reports": {}, "month": None, "late": None, "late_submitted": False,
            "skipped": []}

    def parallel(self, tasks: list[Callable[[], Any]]) -> list[Any]:
        """Runs independent API work concurrently (the order of results is the order of tasks)."""
        if len(tasks) <= 1:
            return [t() for t in tasks]
        return list(self.pool.map(lambda t: t(), tasks))

    # -- tokens -----------------------------------------------------------------------------------
    def officer(self, county: str) -> dict[str, str]:
        return self.api.token("county_officer", county)

    def role(self, role: str, county: str) -> dict[str, str]:
        return self.api.token(role, county)

    def gate(self, county: County) -> dict[str, str]:
        """The token of the county's attendance system (考勤系统), scoped to its schools."""
        return self.api.token("attendance_system", county.code, f"gate-vendor-{county.code}",
                              [s.school_id for s in county.schools])

    def manual_leave(self, school: Any) -> bool:
        """Whether the school enters leave on the platform by hand (every tenth school of its county)."""
        county = next(c for c in self.counties if c.code == school.county)
        return county.schools.index(school) % 10 == 0

    def clock(self, when: datetime) -> None:
        self.now = when
        self.set_clock(when)

    def hook(self, name: str, n: int, day: date) -> None:
        if self.hooks is not None:
            getattr(self.hooks, name)(self, n, day)
