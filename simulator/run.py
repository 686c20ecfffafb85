"""The simulation: a term of a synthetic province driven day by day through the public APIs on a shared
simulated clock, with the ground truth kept beside it and reconciled against reporting at the end."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable

from services.runtime.clock import CHINA
from simulator.api import Api, ApiError
from simulator.province import (
    CAUSES_BY_GROUP,
    RISKY,
    Child,
    County,
    Generator,
    population_csv,
    students_csv,
)
from simulator.truth import (
    FINDINGS,
    MEASURES,
    CaseTruth,
    Row,
    StudentTruth,
    Truth,
    compare,
)

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


def roster_follows_lifecycle() -> bool:
    """Whether attendance's roster follows transfers, graduation and admission (not only enrolments): then a child
    transferred out or graduated is no longer expected (never absent) and an admitted one is checked in."""
    try:
        from contracts.events.registry import (
            StudentAdmittedV1,
            StudentGraduatedV1,
            StudentTransferredOutV1,
        )
        from services.attendance.entrypoints.consumers import POLICIES
    except Exception:  # noqa: BLE001 - an older attendance
        return False
    return all(e in POLICIES for e in (StudentTransferredOutV1, StudentGraduatedV1, StudentAdmittedV1))


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=CHINA)


def evidence(what: str) -> list[dict[str, str]]:
    return [{"kind": "photo", "sha256": hashlib.sha256(what.encode()).hexdigest(), "location": f"s3://sim/{what}"}]


class Simulation:
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
        self.lifecycle = roster_follows_lifecycle()
        self.census: dict[str, Child] = {}  # student id of a never-enrolled child -> the child
        self.moving: dict[str, tuple[Any, int, date]] = {}  # transferred out, to be transferred in: school, grade, on
        self.roster_waits: list[tuple[str, str, str, bool]] = []  # school, student, county, on it: before next roll

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

    # -- setup ------------------------------------------------------------------------------------
    def calendar(self) -> tuple[list[dict], list[str], list[str]]:
        """Weekdays from the start, minus 中秋/国庆 2026, plus the 调休 Saturday; enough days for the term."""
        holidays = [date(2026, 9, 25)] + [date(2026, 10, d) for d in range(1, 8)]
        makeup = [date(2026, 10, 10)]
        day, days = self.o.start, []
        while len(days) < self.o.days:
            if (day.weekday() < 5 and day not in holidays) or day in makeup:
                days.append(day)
            day += timedelta(days=1)
        self.school_days = days
        self.calendar_days = [self.o.start + timedelta(days=i) for i in range((days[-1] - self.o.start).days + 1)]
        term_end = max(days[-1], date(self.o.start.year + 1, 1, 22))
        return ([{"name": "模拟学期", "start": self.o.start.isoformat(), "end": term_end.isoformat()}],
                [d.isoformat() for d in holidays], [d.isoformat() for d in makeup])

    def setup(self) -> None:
        started = time.monotonic()
        try:
            self._setup()
        finally:
            self.stats.timed("setup", started)

    def _setup(self) -> None:
        o, api = self.o, self.api
        self.clock(self.now)
        province = api.token("province_officer", o.province)
        api.post("registry", "/v1/jurisdictions/load", province)
        divisions = api.get("registry", "/v1/jurisdictions", province, params={"prefix": o.province})
        townships: dict[str, list[str]] = {}
        names = {d["code"]: d["name"] for d in divisions}
        for d in divisions:
            if d["level"] == "township":
                townships.setdefault(d["code"][:6], []).append(d["code"])
        chosen = sorted(c for c, t in townships.items() if len(t) >= 2)[: o.counties]
        if len(chosen) < o.counties:
            raise SystemExit(f"only {len(chosen)} counties with townships under {o.province}")
        per_county = [o.students // o.counties + (i < o.students % o.counties) for i in range(o.counties)]
        for code, n in zip(chosen, per_county):
            county = self.gen.county(code, names.get(code, code), sorted(townships[code])[:max(2, o.schools_per_county)],
                                     o.schools_per_county, n, self.run, o.never_enrolled_per_county)
            self.counties.append(county)
        rules = api.put("attendance", f"/v1/jurisdictions/{o.province}/rules", province,
                        json={"consecutive_days": o.threshold_days}).json()
        self.term_start_days = rules["term_start_days"]
        terms, holidays, makeup = self.calendar()
        transition_deadline = o.start + timedelta(days=7)  # 小升初 registration closes a week into the term
        api.put("registry", f"/v1/jurisdictions/{o.province}/comparison-rules", province, json={
            "transfer_lost_days": o.transfer_lost_days, "transition_deadline": f"{transition_deadline:%m-%d}"})
        self.truth.lost_transfer_days = o.transfer_lost_days
        self.truth.transition_deadline = transition_deadline
        if self.lifecycle and o.missed_transitions_per_county + o.admitted_per_county:
            for county in self.counties:
                county.children += self.gen.graduates(county, o.missed_transitions_per_county + o.admitted_per_county)
        mark = time.monotonic()
        for county in self.counties:
            off = self.officer(county.code)
            api.put("attendance", f"/v1/counties/{county.code}/calendar", off,
                    json={"terms": terms, "holidays": holidays, "makeup_days": makeup})
            for s in county.schools:
                r = api.post("registry", "/v1/schools", off, json={
                    "code": s.code, "name": s.name, "level": s.level, "county_code": s.county,
                    "township_code": s.township})
                s.school_id = r.json()["school_id"]
            csv_headers = {**off, "content-type": "text/csv"}
            report = api.post("registry", "/v1/imports/students", csv_headers, content=students_csv(county.children),
                              params={"filename": "students.csv", "source": "education"}).json()
            if not report.get("imported"):
                raise SystemExit(f"student import refused: {report.get('errors', [])[:5]}")
            mark = self.stats.timed("schools and students", mark, self.stats.setup_phases)
            # after the registrations: a comparison run in between must not find registered children out of school
            population = api.post("registry", "/v1/imports/population", csv_headers,
                                  content=population_csv(county.children),
                                  params={"filename": "population.csv", "source": "public_security"}).json()
            mark = self.stats.timed("population", mark, self.stats.setup_phases)
            # ids are keyed pseudonyms only the registry can compute: take them from its answers (line -> id)
            ids = {county.children[r["line"] - 2].id_number: r["student_id"] for r in population["student_ids"]}
            enrolled = [c for c in county.children if c.school is not None]
            ids.update({enrolled[r["line"] - 2].id_number: r["student_id"] for r in report["student_ids"]})
            for c in county.children:
                if c.school is None:
                    c.student_id = ids[c.id_number]
                    self.census[c.student_id] = c
                    self.truth.never_enrolled(county.code, c.groups, c.student_id)
                    continue
                c.student_id = ids[c.id_number]
                self.children[c.student_id] = c
                self.truth.enrol(StudentTruth(c.student_id, county.code, c.township, c.school.school_id, c.grade or 0,
                                              c.groups))
            admitted = 0  # primary graduates of the summer (毕业); most are admitted to a junior school (小升初)
            junior = [x for x in county.schools if x.level == "junior"]
            for c in county.children:
                if c.graduated:
                    api.post("registry", f"/v1/students/{c.student_id}/graduate", off, json={
                        "on": self.now.date().isoformat(), "level": "primary"})
                    self.truth.graduate(c.student_id, self.now.date())
                    if junior and admitted < o.admitted_per_county:
                        admitted += 1
                        school = junior[admitted % len(junior)]
                        api.post("registry", f"/v1/students/{c.student_id}/admit", self.role("school_staff", county.code),
                                 json={"on": self.now.date().isoformat(), "school_id": school.school_id,
                                       "class_name": "7-1"})
                        c.school, c.grade, c.class_name, c.graduated = school, 7, "7-1", False
                        self.truth.move(c.student_id, school.school_id, school.township, 7)
            entries = []
            for t in county.townships:
                entries = [{"slot": "township", "user_id": f"gov-{t}", "name": "包村干部"}]
                entries += [e for s in county.schools if s.township == t for e in (
                    {"slot": "school_leader", "user_id": f"lead-{s.code}", "school_id": s.school_id},
                    {"slot": "head_teacher", "user_id": f"ht-{s.code}", "school_id": s.school_id})]
                api.put("casework", f"/v1/responsibility-maps/{t}", off, json={"entries": entries, "replace": True})
            mark = self.stats.timed("graduates and owners", mark, self.stats.setup_phases)
        deadline = time.monotonic() + 300
        for county in self.counties:
            for s in county.schools:
                want = sum(1 for c in county.children if c.school is s and not (self.lifecycle and c.graduated))
                while api.call("GET", "attendance", f"/v1/schools/{s.school_id}/roster", self.officer(county.code),
                               ok=(404,)).json().get("count") != want:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"roster of {s.code} never reached {want}")
                    time.sleep(0.2)
        self.stats.timed("rosters", mark, self.stats.setup_phases)

    # -- one school day -------------------------------------------------------------------------------
    def statuses(self, day: date, n: int) -> dict[str, str]:
        """Who is present, on leave or absent today (and who drops out, falls ill, comes back, relapses)."""
        o, rng = self.o, self.rng
        out: dict[str, str] = {}
        self._new_leaves: list[tuple[str, date, date]] = []
        for sid, s in self.truth.students.items():
            if not s.on_roster(self.lifecycle):
                continue  # transferred out or graduated: attendance no longer expects the child
            plan = self.plans.get(sid)
            if plan is not None:
                if plan.kind == "ill" and day > plan.until:  # type: ignore[operator]
                    del self.plans[sid]
                    plan = None
                elif plan.back_on is not None and day >= plan.back_on:
                    del self.plans[sid]
                    plan = None
            if plan is None and n >= self.term_start_days:
                risk = o.dropout_hazard * (4 if RISKY & set(s.groups) else 1) * (2 if s.grade >= 7 else 1)
                case = s.case
                if case is not None and case.stage in ("returned",) or (s.cases and s.cases[-1].close_reason == "returned"
                                                                         and s.cases[-1].stage == "closed"):
                    risk = o.relapse_hazard
                if rng.random() < risk:
                    plan = self.plans[sid] = self.out_plan(s)
                elif rng.random() < o.illness_rate * (1.5 if RISKY & set(s.groups) else 1):
                    length = rng.choice((1, 1, 2, 3))
                    last = self.school_days[min(len(self.school_days) - 1, n + length - 1)]
                    plan = self.plans[sid] = Plan("ill", until=last)
                    if length >= 2 and rng.random() < 0.85:  # sick leave asked and approved
                        plan.kind = "ill_leave"
                        plan.until = last
                        self._new_leaves.append((sid, day, last))
                    if plan.kind == "ill":
                        plan.until = last
            if plan is None:
                out[sid] = "present"
            elif plan.kind == "ill_leave":
                out[sid] = "leave"
                if day >= plan.until:  # type: ignore[operator]
                    del self.plans[sid]
            else:
                out[sid] = "absent"
        return out

    def out_plan(self, s: StudentTruth) -> Plan:
        """Why a child stops coming: mostly true dropouts (causes follow the family's situation)."""
        if s.cases and s.cases[-1].causes:
            return Plan("dropout", causes=s.cases[-1].causes)
        r = self.rng.random()
        if r < 0.12:
            return Plan("moved")
        if r < 0.17 and ("disabled" in s.groups or r < 0.14):
            return Plan("severe")
        causes = {CAUSES_BY_GROUP[g] for g in s.groups if g in CAUSES_BY_GROUP}
        if s.grade >= 7 and self.rng.random() < 0.4:
            causes.add("working_away")
        if not causes or self.rng.random() < 0.3:
            causes.add(self.rng.choice(OTHER_CAUSES[: 5 if s.grade < 8 else 6]))
        return Plan("dropout", causes=tuple(sorted(causes)))

    def school_day(self, n: int, day: date) -> None:
        api = self.api
        self.clock(at(day, 7, 30))
        t = time.monotonic()
        self.await_rosters()  # yesterday's transfers in and moves away: on (off) the roster before today's roll
        self.stats.timed("transfers", t)
        t = time.monotonic()
        status = self.statuses(day, n)
        by_county: dict[str, list[dict]] = {c.code: [] for c in self.counties}
        for sid, what in status.items():
            if what == "present":
                c = self.children[sid]
                by_county[c.county].append({"school_id": c.school.school_id, "student_id": sid,  # type: ignore[union-attr]
                                            "status": "present", "checked_at": f"{day}T07:{self.rng.randrange(0, 30):02d}:00+08:00",
                                            "device": f"gate-{c.school.code}"})  # type: ignore[union-attr]
        self.stats.timed("statuses", t)
        t = time.monotonic()
        def leave(sid: str, first: date, last: date) -> None:
            c = self.children[sid]
            staff = self.role("school_staff", c.county)
            asked = api.post("attendance", f"/v1/schools/{c.school.school_id}/leaves", staff, json={  # type: ignore[union-attr]
                "student_id": sid, "first_day": first.isoformat(), "last_day": last.isoformat(), "kind": "sick",
                "reason": "病假"}).json()
            api.post("attendance", f"/v1/schools/{c.school.school_id}/leaves/{asked['leave_id']}/approve", staff,  # type: ignore[union-attr]
                     json={"note": "同意"})

        # most schools take leave in their own campus app and its attendance system syncs it in bulk (请假同步); every
        # tenth school of a county enters it on the platform by hand (request, then approve)
        by_hand, synced = [], {c.code: [] for c in self.counties}
        for sid, first, last in self._new_leaves:
            c = self.children[sid]
            if self.manual_leave(c.school):
                by_hand.append(lambda a=(sid, first, last): leave(*a))
            else:
                synced[c.county].append({
                    "school_id": c.school.school_id, "student_id": sid, "first_day": first.isoformat(),  # type: ignore[union-attr]
                    "last_day": last.isoformat(), "kind": "sick", "reason": "病假", "note": "同意",
                    "external_id": f"QJ-{self.run}-{sid[:12]}-{first:%Y%m%d}", "approved_by": f"ht-{c.school.code}"})  # type: ignore[union-attr]
        for county in self.counties:
            items = synced[county.code]
            by_hand += [lambda g=self.gate(county), b=items[i:i + 1000]: api.post(
                "attendance", "/v1/leaves/batch", g, json={"items": b}) for i in range(0, len(items), 1000)]
        self.parallel(by_hand)
        self.stats.leaves += len(self._new_leaves)
        self.stats.timed("leaves", t)
        t = time.monotonic()
        batches = []
        for county in self.counties:
            gate = self.gate(county)
            items = by_county[county.code]
            batches += [(gate, items[i:i + self.o.batch_size]) for i in range(0, len(items), self.o.batch_size)]
            self.stats.checkins += len(items)
        self.parallel([lambda g=g, b=b: api.post("attendance", f"/v1/days/{day}/checkins", g, json={"items": b})
                       for g, b in batches])
        self.stats.timed("checkins", t)
        self.hook("after_checkins", n, day)
        self.clock(at(day, 16, 30))
        t = time.monotonic()
        expected_absent = {c.code: 0 for c in self.counties}
        for sid, what in status.items():
            expected_absent[self.truth.students[sid].county] += what == "absent"
        closed = self.parallel([lambda county=county: api.post(
            "attendance", f"/v1/counties/{county.code}/days/{day}/close", self.officer(county.code)).json()
            for county in self.counties])
        for county, r in zip(self.counties, closed):
            self.stats.closes += r["schools"]
            self.stats.absent_reported += r["absent"]
            self.stats.absent_expected += expected_absent[county.code]
            if r["absent"] != expected_absent[county.code]:
                self.explain_absences(county, day, status)
        self.stats.timed("close", t)
        self.truth.close_day(day, status)
        self.hook("after_close", n, day)
        t = time.monotonic()
        self.barrier(f"{day} after close", DAILY_MEASURES)
        self.stats.timed("catch-up", t)
        self.clock(at(day, 17, 0))
        t = time.monotonic()
        self.work_cases(day)
        self.stats.timed("casework", t)
        t = time.monotonic()
        self.transfers(day)
        self.stats.timed("transfers", t)

    def explain_absences(self, county: County, day: date, status: dict[str, str]) -> None:
        """A close that counted other absences than expected: which children, and what the simulator had for them."""
        officer = self.officer(county.code)
        for school in county.schools:
            summary = self.api.call("GET", "attendance", f"/v1/schools/{school.school_id}/days/{day}", officer,
                                    ok=(404,)).json()
            reported = set(summary.get("absent_student_ids") or [])
            expected = {sid for sid, what in status.items() if what == "absent"
                        and self.truth.students[sid].school_id == school.school_id}
            for sid in sorted(reported ^ expected):
                s = self.truth.students.get(sid)
                self.stats.absence_diffs.append(
                    f"{day} {school.code} {sid}: attendance {'absent' if sid in reported else 'not absent'}, "
                    f"simulator {status.get(sid, 'not on its roster')}"
                    + (f" (school {s.school_id[:8]}, grade {s.grade}, left {s.left}, plan "
                       f"{getattr(self.plans.get(sid), 'kind', None)})" if s else ""))

    # -- transfers between schools (转出 → 转入) --------------------------------------------------------
    def transfers(self, day: date) -> None:
        """Children moving to another school of their county: the old school transfers out today and the new one
        transfers in today or one to three school days later (meanwhile on no roster, so never absent)."""
        if not self.lifecycle or not self.o.transfer_hazard:
            return
        tasks: list[Callable[[], Any]] = []
        for sid, (school, grade, on) in list(self.moving.items()):
            if on <= day:
                del self.moving[sid]
                tasks.append(lambda sid=sid, school=school, grade=grade: self.transfer_in(sid, school, grade, day))
        for sid, s in self.truth.students.items():
            if s.left or sid in self.plans or (s.case is not None and s.case.is_open) or sid in self.moving:
                continue
            if self.rng.random() >= self.o.transfer_hazard:
                continue
            child = self.children[sid]
            county = next(c for c in self.counties if c.code == s.county)
            others = [x for x in county.schools if x.level == child.school.level and x is not child.school]  # type: ignore[union-attr]
            if not others:
                continue
            school = self.rng.choice(others)
            later = [d for d in self.school_days if d > day][: self.rng.choice((0, 0, 1, 2, 3))]
            self.moving[sid] = (school, s.grade, later[-1] if later else day)
            tasks.append(lambda sid=sid, school=school: self.transfer_out(sid, school, day))
        self.parallel(tasks)
        same_day = []  # transferred in on the day they left: after the transfers out, each waiting on its roster
        for sid, (school, grade, on) in list(self.moving.items()):
            if on <= day and self.truth.students[sid].left:
                del self.moving[sid]
                same_day.append(lambda sid=sid, school=school, grade=grade: self.transfer_in(sid, school, grade, day))
        self.parallel(same_day)

    def transfer_out(self, sid: str, school: Any, day: date) -> None:
        s = self.truth.students[sid]
        try:
            self.api.post("registry", f"/v1/students/{sid}/transfer-out", self.officer(s.county), json={
                "on": day.isoformat(), "reason": "家庭搬迁，转学", "to_school_id": school.school_id})
        except ApiError as exc:
            self.stats.api_errors.append(str(exc)[:300])
            self.moving.pop(sid, None)
            return
        with self.truth_lock:
            self.truth.transfer_out(sid, day)
            self.stats.transfers += 1

    def transfer_in(self, sid: str, school: Any, grade: int, day: date) -> None:
        try:
            self.api.post("registry", f"/v1/students/{sid}/transfer-in", self.role("school_staff", school.county), json={
                "on": day.isoformat(), "school_id": school.school_id, "grade": grade, "class_name": f"{grade}-1"})
        except ApiError as exc:
            self.stats.api_errors.append(str(exc)[:300])
            return
        child = self.children[sid]
        child.school, child.class_name = school, f"{grade}-1"
        with self.truth_lock:
            self.truth.move(sid, school.school_id, school.township, grade)
        self.expect_roster(school.school_id, sid, school.county)

    # -- casework ---------------------------------------------------------------------------------
    def learn_case_ids(self) -> None:
        missing = {c.student_id: c for c in self.truth.all_cases() if c.case_id is None}
        if not missing:
            return
        for county in self.counties:
            cursor = None
            while True:
                params = {"township_code": county.code, "stage": "suspected", "limit": 200}
                if cursor:
                    params["cursor"] = cursor
                page = self.api.get("casework", "/v1/cases", self.officer(county.code), params=params)
                for item in page["items"]:
                    case = missing.get(item["student_id"])
                    if case is not None:
                        case.case_id = item["case_id"]
                cursor = page.get("next_cursor")
                if not cursor:
                    break

    def act(self, case: CaseTruth, path: str, role: str, body: dict[str, Any] | None = None,
            method: str = "POST") -> dict[str, Any] | None:
        try:
            return self.api.call(method, "casework", f"/v1/cases/{case.case_id}{path}",
                                 self.role(role, case.county), json=body).json()
        except ApiError as exc:
            self.stats.api_errors.append(str(exc)[:300])
            return None

    def work_cases(self, day: date) -> None:
        """Owners work every open case they know of; independent cases concurrently, decisions drawn in order."""
        self.learn_case_ids()
        tasks: list[Callable[[], Any]] = []
        for case in self.truth.all_cases():
            if case.case_id is None or not case.is_open:
                continue
            w = self.case_work.setdefault(id(case), {"failed": 0, "next_visit": day, "helped": False})
            draws = (self.rng.choice((2, 3, 4)), self.rng.random(), self.rng.choice(("undecided", "refused")),
                     self.rng.random())
            tasks.append(lambda case=case, w=w, draws=draws: self.work_one(case, w, day, draws))
        self.parallel(tasks)

    def work_one(self, case: CaseTruth, w: dict[str, Any], day: date, draws: tuple) -> None:
        s = self.truth.students.get(case.student_id)
        plan = self.plans.get(case.student_id)
        if case.stage == "suspected" and case.opened_on is not None:
            if case.source == "attendance" and (day - case.opened_on).days >= 3:
                self.verify(case, s, plan)  # type: ignore[arg-type]
            elif case.source != "attendance" and (day - case.opened_on).days >= 1:
                self.verify_finding(case, draws[3])
        elif case.stage in ("persuading", "escalated") and plan is not None and plan.back_on is None:
            self.persuade(case, plan, w, day, draws)
        elif case.stage == "not_dropout":
            if self.act(case, "/closure", "county_officer", {"reason": case.close_reason,
                                                             "evidence": evidence(f"close-{case.case_id}")}):
                Truth.close(case, case.close_reason or "moved")
        elif case.stage == "returned":
            if case.follow_up_until is None:
                view = self.act(case, "", "county_officer", method="GET")
                if view and view.get("returned"):
                    case.follow_up_until = date.fromisoformat(view["returned"]["follow_up_until"])
            if case.follow_up_until is not None and day > case.follow_up_until:
                if self.act(case, "/closure", "school_staff", {"reason": "returned",
                                                               "evidence": evidence(f"back-{case.case_id}")}):
                    Truth.close(case, "returned")
                    case.follow_up_until = None

    def verify(self, case: CaseTruth, s: StudentTruth, plan: Plan | None) -> None:
        if plan is None or plan.kind in ("ill", "ill_leave"):
            return  # back before anyone verified: the return closes it later
        if self.act(case, "/verification/start", "township_officer") is None:
            return
        case.stage = "verifying"
        if plan.kind == "moved":
            if self.act(case, "/verification", "township_officer", {
                    "outcome": "not_dropout", "reason": "moved", "finding": "随父母迁往外省，已核实",
                    "evidence": evidence(f"moved-{case.case_id}")}):
                Truth.not_dropout(case, "moved")
                try:
                    self.api.post("registry", f"/v1/students/{s.student_id}/transfer-out", self.officer(s.county), json={
                        "on": self.now.date().isoformat(), "reason": "随父母迁出", "to_region_code": "110101"})
                    with self.truth_lock:
                        self.truth.transfer_out(s.student_id, self.now.date())
                except ApiError as exc:
                    self.stats.api_errors.append(str(exc)[:300])
                    return
                # attendance learns it over Kafka: off the roster before the next close counts the child absent
                self.expect_roster(s.school_id, s.student_id, s.county, present=False)
        elif plan.kind == "severe":
            if self.act(case, "/exclusion", "county_officer", {
                    "basis": "severe_illness", "note": "重病无学习能力，经评估",
                    "evidence": [{**evidence(f"assess-{case.case_id}")[0], "kind": "assessment"}]}):
                Truth.exclude(case)
        elif self.act(case, "/verification", "township_officer", {
                "outcome": "dropout", "causes": list(plan.causes), "cause_analysis": "家访核实：" + "、".join(plan.causes)}):
            Truth.confirm(case, plan.causes)

    def verify_finding(self, case: CaseTruth, r: float) -> None:
        """A case from the registry's comparisons: a lost transfer is found enrolled elsewhere (the receiving school
        never recorded the transfer in); a census or 小升初 finding is in school elsewhere or a true dropout."""
        if self.act(case, "/verification/start", "township_officer") is None:
            return
        case.stage = "verifying"
        elsewhere = case.source == "transfer" or r < self.o.census_not_dropout
        if case.source == "transition" and not self.lifecycle:
            elsewhere = True  # a persuaded graduate is admitted to a junior school: needs the roster to follow it
        if elsewhere:
            reason = "moved" if case.source == "transfer" else "in_school_elsewhere"
            if self.act(case, "/verification", "township_officer", {
                    "outcome": "not_dropout", "reason": reason, "finding": "已在外地学校就读，取得就读证明",
                    "evidence": evidence(f"elsewhere-{case.case_id}")}):
                Truth.not_dropout(case, reason)
            return
        groups = self.groups_of(case.student_id)
        causes = sorted({CAUSES_BY_GROUP[g] for g in groups if g in CAUSES_BY_GROUP} or {"family"})
        if self.act(case, "/verification", "township_officer", {
                "outcome": "dropout", "causes": causes, "cause_analysis": "核查：" + "、".join(causes)}):
            Truth.confirm(case, causes)
            self.plans[case.student_id] = Plan("dropout", causes=tuple(causes))

    def groups_of(self, sid: str) -> tuple[str, ...]:
        s = self.truth.students.get(sid)
        return s.groups if s is not None else self.census[sid].groups

    def persuade(self, case: CaseTruth, plan: Plan, w: dict[str, Any], day: date, draws: tuple) -> None:
        o = self.o
        groups = self.groups_of(case.student_id)
        if day >= w["next_visit"]:
            w["next_visit"] = day + timedelta(days=draws[0])
            child = self.children.get(case.student_id) or self.census[case.student_id]
            visitors = [f"gov-{child.township}"] + ([f"ht-{child.school.code}"] if child.school else [])
            self.act(case, "/visits", "township_officer", {
                "record_id": f"visit-{case.case_id[:8]}-{day}", "visited_at": self.now.isoformat(),
                "visitors": visitors, "met": ["学生", "监护人"], "findings": "家访了解情况"})
            if "poverty" in plan.causes and not w["helped"]:
                w["helped"] = True
                self.act(case, "/help", "township_officer", {"record_id": f"help-{case.case_id[:8]}",
                                                             "help_type": "financial_aid", "detail": "发放助学金",
                                                             "amount_yuan": 500})
            chance = o.persuasion_success * (0.7 if RISKY & set(groups) else 1) * (1 + 0.5 * len(case.ladder))
            agreed = draws[1] < chance
            self.act(case, "/persuasions", "township_officer", {
                "record_id": f"talk-{case.case_id[:8]}-{day}", "method": "home_visit",
                "outcome": "agreed_to_return" if agreed else draws[2], "note": "劝返谈话"})
            if agreed:
                nxt = [d for d in self.school_days if d > day]
                registered = self.truth.students.get(case.student_id)
                if case.source in ("census", "transition") and (registered is None or not registered.enrolled):
                    # not (yet) registered at a school: registered or admitted first; a child brought back so
                    # before who dropped out again (the case reopened) just comes back, like any other
                    self.bring_back(case, plan, day)
                    return
                plan.back_on = nxt[0] if nxt else day + timedelta(days=1)
                return
            w["failed"] += 1
        ladder = ("return_notice", "correction_order", "legal_documents", "court_referral")
        roles = {"return_notice": "school_staff", "correction_order": "township_officer",
                 "legal_documents": "justice_officer", "court_referral": "justice_officer"}
        days = {"return_notice": 7, "correction_order": 15, "legal_documents": 30}
        taken = case.ladder
        due = not taken and w["failed"] >= 2
        if taken and len(taken) < len(ladder) and case.deadline_at is not None and self.now > case.deadline_at:
            due = True
        if due:
            step = ladder[len(taken)]
            deadline = day + timedelta(days=days[step]) if step in days else None
            body = {"step": step, "document_no": f"{step[:4].upper()}-{case.case_id[:8]}", "addressee": "监护人"}
            if deadline is not None:
                body["deadline"] = deadline.isoformat()
            if self.act(case, "/legal-steps", roles[step], body):
                Truth.legal_step(case, step, at(deadline + timedelta(days=1), 0) if deadline else None)

    def bring_back(self, case: CaseTruth, plan: Plan, day: date) -> None:
        """A persuaded child of a census or 小升初 finding: registered at a school of the county (enrolled, or admitted
        to a junior school), the school confirms the return, and the child comes from the next school day."""
        county = next(c for c in self.counties if c.code == case.county)
        sid = case.student_id
        staff = self.role("school_staff", county.code)
        try:
            if case.source == "census":
                child = self.census[sid]
                grade = min(9, max(1, self.gen.school_year - child.birth_date.year - 5
                                   - (child.birth_date.month >= 9)))
                level = "primary" if grade <= 6 else "junior"
                school = next((x for x in county.schools if x.level == level), county.schools[0])
                grade = grade if grade in school.grades else school.grades[-1]
                self.api.post("registry", "/v1/students", self.officer(county.code), json={
                    "id_number": child.id_number, "name": child.name, "birth_date": child.birth_date.isoformat(),
                    "school_id": school.school_id, "grade": grade, "class_name": f"{grade}-1",
                    "head_teacher_id": f"ht-{school.code}-{grade}-1", "head_teacher_name": "班主任"})
                child.school, child.grade, child.class_name = school, grade, f"{grade}-1"
            else:
                child = self.children[sid]
                school = next(x for x in county.schools if x.level == "junior")
                self.api.post("registry", f"/v1/students/{sid}/admit", staff, json={
                    "on": day.isoformat(), "school_id": school.school_id, "class_name": "7-1"})
                child.school, child.grade, child.class_name = school, 7, "7-1"
        except ApiError as exc:
            self.stats.api_errors.append(str(exc)[:300])
            return
        self.wait_on_roster(school.school_id, sid, county.code)
        if self.act(case, "/return", "school_staff", {"returned_on": day.isoformat(),
                                                      "evidence": evidence(f"enrolled-{case.case_id}")}) is None:
            return
        self.truth.bring_back(case, StudentTruth(sid, county.code, school.township, school.school_id, child.grade or 0,
                                                 child.groups), day)
        self.children[sid] = child
        self.plans.pop(sid, None)

    def expect_roster(self, school_id: str, sid: str, county: str, present: bool = True) -> None:
        """A registry change attendance learns over Kafka: waited for before the next school day's roll
        (``await_rosters``), so the wait overlaps the rest of the day's work."""
        with self.truth_lock:
            self.roster_waits.append((school_id, sid, county, present))

    def await_rosters(self) -> None:
        """Waits until every expected roster change is there: one roster read per school and round."""
        waits, self.roster_waits = self.roster_waits, []
        deadline = time.monotonic() + self.o.barrier_timeout
        while waits:
            schools = {(w[0], w[2]) for w in waits}
            rosters = dict(zip(schools, self.parallel([
                lambda s=s: {x["student_id"] for x in self.api.get(
                    "attendance", f"/v1/schools/{s[0]}/roster", self.officer(s[1])).get("students", [])}
                for s in schools])))
            waits = [w for w in waits if (w[1] in rosters[(w[0], w[2])]) != w[3]]
            if not waits:
                return
            if time.monotonic() > deadline:
                self.stats.barrier_timeouts += [f"{sid} never {'on' if present else 'off'} the roster of {school_id}"
                                                for school_id, sid, _, present in waits]
                return
            time.sleep(0.2)

    def wait_on_roster(self, school_id: str, sid: str, county: str, present: bool = True) -> None:
        """Attendance learns a registration over Kafka: the child is checked in only once on the school's roster
        (and, with ``present=False``, counted absent no more once off it)."""
        deadline = time.monotonic() + self.o.barrier_timeout
        while time.monotonic() < deadline:
            roster = self.api.get("attendance", f"/v1/schools/{school_id}/roster", self.officer(county))
            if any(x["student_id"] == sid for x in roster.get("students", [])) == present:
                return
            time.sleep(0.2)
        self.stats.barrier_timeouts.append(f"{sid} never {'on' if present else 'off'} the roster of {school_id}")

    # -- reporting --------------------------------------------------------------------------------
    def dashboards(self) -> dict[str, dict[str, Any] | None]:
        """Every county's figures, read as the children of its prefecture's dashboard (one request per prefecture)."""
        out: dict[str, dict[str, Any] | None] = {c.code: None for c in self.counties}
        province = self.api.token("province_officer", self.o.province)
        for prefecture in sorted({code[:4] for code in out}):
            try:
                body = self.api.get("reporting", f"/v1/dashboard/{prefecture}", province)
            except ApiError:
                continue
            for child in body.get("children", []):
                if child.get("code") in out and not child.get("school_id"):
                    out[child["code"]] = child["figures"]
        for code in [c for c, f in out.items() if f is None]:  # a county the prefecture's answer did not list
            try:
                out[code] = self.api.get("reporting", f"/v1/dashboard/{code}", self.officer(code))["figures"]
            except ApiError:
                out[code] = None  # compared as missing
        return out

    def barrier(self, label: str, measures: tuple[str, ...] = BARRIER_MEASURES) -> bool:
        """Waits until every county's dashboard shows what the truth says now (the pipeline has caught up)."""
        started = time.monotonic()
        expected = self.truth.figures(self.now)  # nothing changes the truth or the clock while it waits
        while True:
            rows = compare("dashboard", expected, self.dashboards(), measures)
            if all(r.ok for r in rows):
                self.stats.barrier_waits.append(time.monotonic() - started)
                self.stats.slowest_waits = sorted(self.stats.slowest_waits + [(round(time.monotonic() - started, 1),
                                                                                label)], reverse=True)[:3]
                return True
            if time.monotonic() - started > self.o.barrier_timeout:
                self.stats.barrier_timeouts.append(label + ": " + "; ".join(
                    f"{r.unit} {r.measure} {r.expected}≠{r.reported}" for r in rows if not r.ok)[:400])
                return False
            time.sleep(0.3)

    def hook(self, name: str, n: int, day: date) -> None:
        if self.hooks is not None:
            getattr(self.hooks, name)(self, n, day)

    # -- the term -----------------------------------------------------------------------------------
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
            nxt = day + timedelta(days=1)
            if nxt.month != day.month and day != self.calendar_days[-1]:
                self.clock(at(day, 23, 0))
                t = time.monotonic()
                self.barrier(f"end of {day:%Y-%m}")
                self.stats.timed("catch-up", t)
                self.snapshots[f"{day:%Y-%m}"] = self.truth.figures(at(nxt, 0))

    def reconcile(self) -> list[Row]:
        """Expected vs reported per county and measure: dashboards, ledger, monthly reports, attendance."""
        started = time.monotonic()
        try:
            return self._reconcile()
        finally:
            self.stats.timed("reconcile", started)

    def _reconcile(self) -> list[Row]:
        api, last = self.api, self.school_days[-1]
        self.await_rosters()
        for county in self.counties:
            api.post("registry", "/v1/comparisons/run", self.officer(county.code),
                     json={"kinds": ["out_of_school", "transfer_lost", "transition_missed"], "as_of": last.isoformat(),
                           "prefix": county.code})
        expected = self.truth.figures(self.now)  # findings as the comparisons just run (as of the last day) leave them
        deadline = time.monotonic() + self.o.barrier_timeout
        while True:  # let the findings reach reporting
            rows = compare("dashboard", expected, self.dashboards())
            if all(r.ok for r in rows) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        rows += self.ledger_rows()
        rows += self.report_rows()
        rows.append(Row("attendance", "all", "absent (closed days)", self.stats.absent_expected,
                        self.stats.absent_reported))
        rows.append(Row("attendance", "all", "school days closed", len(self.school_days) * sum(
            len(c.schools) for c in self.counties), self.stats.closes))
        return rows

    def ledger_rows(self) -> list[Row]:
        rows = []
        want = self.truth.case_statuses()
        for county in self.counties:
            got: dict[str, str] = {}
            page = 1
            while True:
                body = self.api.get("reporting", "/v1/ledgers/cases", self.officer(county.code),
                                    params={"county_code": county.code, "page": page, "page_size": 200})
                items = body["items"]
                got.update({i["case_id"]: i["status"] for i in items})
                if len(items) < 200:
                    break
                page += 1
            mine = {c.case_id: want[c.case_id] for c in self.truth.all_cases()
                    if c.case_id in want and c.county == county.code}
            same = sum(1 for cid, st in mine.items() if got.get(cid) == st)
            rows.append(Row("ledger", county.code, "rows", len(mine), len(got)))
            rows.append(Row("ledger", county.code, "rows with expected status", len(mine), same))
        return rows

    def report_rows(self) -> list[Row]:
        rows: list[Row] = []
        province = self.api.token("province_officer", self.o.province)
        for month, expected in self.snapshots.items():
            try:
                self.api.post("reporting", "/v1/reports/seal", province, params={"month": month})
                listing = self.api.get("reporting", "/v1/reports", province, params={"month": month})["items"]
            except ApiError as exc:
                self.stats.api_errors.append(f"monthly reports unavailable: {exc}"[:300])
                return rows
            reported: dict[str, dict[str, Any] | None] = {}
            for item in listing:
                if item.get("level") == "county" and item.get("code") in expected:
                    full = self.api.get("reporting", f"/v1/reports/{item['report_id']}", province)
                    reported[item["code"]] = full.get("figures")
            rows += compare(f"report {month}", expected, reported, BARRIER_MEASURES)
        return rows
