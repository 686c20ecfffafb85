"""Ground truth of a simulated province, and its reconciliation with what reporting shows. Pure: no I/O.

The simulator decides what happens to every child (who is absent, who drops out, who is persuaded back) and
applies here the same rules the services apply (consecutive unexcused school days → suspected dropout, one
case per child episode, relapse and reopening, the legal ladder's deadlines), so at any moment it knows which
figures each county's dashboard, ledger and monthly report must show.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from statistics import median
from typing import Any, Iterable

OPEN_STAGES = ("suspected", "verifying", "persuading", "escalated", "returned", "not_dropout")
RETURNABLE = ("suspected", "verifying", "persuading", "escalated")
# reporting's ledger status for each casework stage (VerificationStarted is not published: still 'suspected')
STATUS_OF_STAGE = {"suspected": "suspected", "verifying": "suspected", "persuading": "confirmed",
                   "escalated": "legal", "returned": "returned", "not_dropout": "not_dropout", "closed": "closed",
                   "excluded": "excluded"}
MEASURES = (
    "enrolled", "enrolled_primary", "enrolled_junior", "cases", "open_suspected_dropouts", "confirmed_dropouts",
    "confirmed_primary", "confirmed_junior", "returned", "closed", "not_dropout", "excluded", "overdue_deadlines",
    "attendance_suspected_open", "out_of_school", "transfer_lost", "transition_missed",
)
FINDINGS = ("out_of_school", "transfer_lost", "transition_missed")  # the registry's open findings (四查三比对)
DICT_MEASURES = ("cases_by_stage", "cases_by_cause", "special_groups")


@dataclass
class CaseTruth:
    """One case (一人一案) as the simulator expects casework and reporting to hold it."""

    student_id: str
    county: str
    grade: int | None  # None: a child with no registration (census); counted in neither level
    stage: str = "suspected"
    case_id: str | None = None
    outcome: str | None = None
    causes: tuple[str, ...] = ()
    close_reason: str | None = None
    ladder: list[str] = field(default_factory=list)
    deadline_at: datetime | None = None
    deadline_state: str | None = None  # pending | met (reporting's deadline_status, 'overdue' derived from time)
    returned_on: date | None = None
    follow_up_until: date | None = None
    relapses: int = 0
    opened_on: date | None = None
    source: str = "attendance"  # attendance | census | transfer | transition (registry's comparisons → casework)

    @property
    def status(self) -> str:
        return STATUS_OF_STAGE[self.stage]

    @property
    def is_open(self) -> bool:
        return self.stage not in ("closed", "excluded")


@dataclass
class StudentTruth:
    """A registered child and what attendance knows of them."""

    student_id: str
    county: str
    township: str
    school_id: str
    grade: int
    groups: tuple[str, ...] = ()
    enrolled: bool = True
    streak: int = 0
    open_detection: bool = False
    detections: int = 0
    case: CaseTruth | None = None
    cases: list[CaseTruth] = field(default_factory=list)
    left: bool = False  # transferred out or graduated (registry), until admitted again

    def on_roster(self, lifecycle: bool) -> bool:
        """Whether attendance expects the child: always once enrolled, unless its roster follows the lifecycle."""
        return not (lifecycle and self.left)


class Truth:
    """Everything the simulator knows happened, with the services' rules applied to it."""

    def __init__(self, threshold_days: int = 2) -> None:
        self.threshold = threshold_days
        self.students: dict[str, StudentTruth] = {}
        self.out_of_school: list[tuple[str, tuple[str, ...], str]] = []  # never-enrolled: county, groups, student id
        self.transfers_out: list[tuple[str, date, str]] = []  # county, day, student id of registrations transferred out
        self.counties: list[str] = []
        self.extra_cases: list[CaseTruth] = []  # cases of children who were never registered (census findings)
        self._found: set[tuple[str, str]] = set()
        self.lost_transfer_days = 30
        self.graduates: list[tuple[str, date, str]] = []  # county, day, student id of primary graduates (小升初)
        self.transition_deadline: date | None = None  # the province's 小升初 deadline (None: next school year)
        self.timeliness: dict[tuple[str, str], bool] = {}  # (county, month) -> its monthly report on time (督导考核)

    # -- population -------------------------------------------------------------------------------
    def enrol(self, s: StudentTruth) -> None:
        self.students[s.student_id] = s
        if s.county not in self.counties:
            self.counties.append(s.county)

    def never_enrolled(self, county: str, groups: Iterable[str] = (), student_id: str = "") -> None:
        if county not in self.counties:
            self.counties.append(county)
        self.out_of_school.append((county, tuple(groups), student_id))

    def transfer_out(self, student_id: str, day: date) -> None:
        s = self.students[student_id]
        s.enrolled, s.left = False, True
        self.transfers_out.append((s.county, day, student_id))

    def graduate(self, student_id: str, day: date) -> None:
        """A primary graduate (毕业): no longer enrolled until admitted to a junior school."""
        s = self.students[student_id]
        s.enrolled, s.left = False, True
        self.graduates.append((s.county, day, student_id))

    def move(self, student_id: str, school_id: str, township: str, grade: int) -> None:
        """Transferred in (转入) or admitted (小升初) at a school of the same county: enrolled there from now."""
        s = self.students[student_id]
        s.school_id, s.township, s.grade = school_id, township, grade
        s.enrolled, s.left = True, False
        self.transfers_out = [t for t in self.transfers_out if t[2] != student_id]
        self.graduates = [g for g in self.graduates if g[2] != student_id]

    def bring_back(self, case: CaseTruth, student: StudentTruth, day: date) -> None:
        """A child of a census or 小升初 finding registered (enrolled or admitted) and back at school on `day`: the
        school confirmed the return, so the case is in follow-up; the finding is retracted at the next comparison."""
        s = self.students.get(student.student_id)
        if s is None:  # census: the child's case moves from the unregistered to the registered
            s = student
            self.enrol(s)
            self.extra_cases = [c for c in self.extra_cases if c is not case]
            self.out_of_school = [o for o in self.out_of_school if o[2] != s.student_id]
            s.cases.append(case)
        else:
            s.school_id, s.grade, s.township = student.school_id, student.grade, student.township
            self.graduates = [g for g in self.graduates if g[2] != s.student_id]
        s.enrolled, s.left, s.case = True, False, case
        case.grade = s.grade
        case.stage, case.returned_on, case.follow_up_until = "returned", day, None

    def comparisons(self, day: date) -> None:
        """The registry's daily comparisons on `day`: census (失学) and lost transfers, each opening a case."""
        for county, _, sid in self.out_of_school:
            if ("census", sid) not in self._found:
                self._found.add(("census", sid))
                self.extra_cases.append(CaseTruth(sid, county, grade=None, opened_on=day, source="census"))
        for county, on, sid in self.transfers_out:
            if (day - on).days > self.lost_transfer_days and ("transfer", f"{sid}:{on}") not in self._found:
                self._found.add(("transfer", f"{sid}:{on}"))
                self._finding(sid, county, day, "transfer")
        for county, on, sid in self.graduates:
            deadline = self.transition_deadline or date(on.year + (on.month >= 9), 9, 1)
            if day >= deadline and ("transition", f"{sid}:{on.year}") not in self._found:
                self._found.add(("transition", f"{sid}:{on.year}"))
                self._finding(sid, county, day, "transition")

    def _finding(self, sid: str, county: str, day: date, source: str) -> None:
        """A finding about a registered child opens a case, or joins the open one."""
        s = self.students[sid]
        if s.case is None or not s.case.is_open:
            s.case = CaseTruth(sid, county, grade=s.grade, opened_on=day, source=source)
            s.cases.append(s.case)

    def all_cases(self) -> list[CaseTruth]:
        return [c for s in self.students.values() for c in s.cases] + self.extra_cases

    # -- attendance: one closed school day --------------------------------------------------------
    def close_day(self, day: date, status: dict[str, str]) -> list[StudentTruth]:
        """Applies a closed day ('present' | 'leave' | 'absent' per student); returns the newly detected."""
        detected = []
        for sid, what in status.items():
            s = self.students[sid]
            if what == "present":
                if s.open_detection:
                    self.resumed(s, day)
                s.streak = 0
            elif what == "leave":
                s.streak = 0
            else:
                s.streak += 1
                if s.streak >= self.threshold and not s.open_detection:
                    s.open_detection = True
                    s.detections += 1
                    self.detected(s, day)
                    detected.append(s)
        return detected

    def resumed(self, s: StudentTruth, day: date) -> None:
        """Seen again after a detection: the open case records the return (if it can)."""
        s.open_detection = False
        case = s.case
        if case is not None and case.stage in RETURNABLE:
            case.stage = "returned"
            case.returned_on, case.follow_up_until = day, None
            case.deadline_state = "met" if case.deadline_at is not None else None

    def detected(self, s: StudentTruth, day: date) -> None:
        """One open case per child episode: open, join (relapse during follow-up) or reopen after a return."""
        case = s.case
        if case is not None and case.is_open:
            if case.stage == "returned":
                case.stage, case.returned_on, case.relapses = "persuading", None, case.relapses + 1
            return
        last = s.cases[-1] if s.cases else None
        if last is not None and last.stage == "closed" and last.close_reason == "returned":
            last.stage, last.close_reason, last.returned_on = "persuading", None, None
            last.relapses += 1
            last.ladder = []
            s.case = last
            return
        case = CaseTruth(student_id=s.student_id, county=s.county, grade=s.grade, opened_on=day)
        s.case = case
        s.cases.append(case)

    # -- casework: what people did ------------------------------------------------------------------
    @staticmethod
    def confirm(case: CaseTruth, causes: Iterable[str]) -> None:
        case.stage, case.outcome, case.causes = "persuading", "dropout", tuple(sorted(set(causes)))

    @staticmethod
    def not_dropout(case: CaseTruth, reason: str) -> None:
        case.stage, case.outcome, case.close_reason = "not_dropout", "not_dropout", reason

    @staticmethod
    def exclude(case: CaseTruth) -> None:
        case.stage = "excluded"

    @staticmethod
    def legal_step(case: CaseTruth, step: str, deadline_at: datetime | None) -> None:
        case.stage = "escalated"
        case.ladder.append(step)
        case.deadline_at = deadline_at
        case.deadline_state = "pending" if deadline_at is not None else None

    @staticmethod
    def close(case: CaseTruth, reason: str) -> None:
        case.stage, case.close_reason = "closed", reason

    # -- figures --------------------------------------------------------------------------------------
    def figures(self, now: datetime) -> dict[str, dict[str, Any]]:
        """Per county: every measure reporting's dashboard shows, as it must be at `now`."""
        out: dict[str, dict[str, Any]] = {}
        for county in self.counties:
            c: Counter = Counter({m: 0 for m in MEASURES})
            by_stage: Counter = Counter()
            by_cause: Counter = Counter()
            groups: Counter = Counter()
            out[county] = {"_c": c, "cases_by_stage": by_stage, "cases_by_cause": by_cause, "special_groups": groups}
        for s in self.students.values():
            f = out[s.county]
            c = f["_c"]
            if s.enrolled:
                c["enrolled"] += 1
                c["enrolled_primary" if s.grade <= 6 else "enrolled_junior"] += 1
            c["attendance_suspected_open"] += s.open_detection
        for case in self.all_cases():
            f = out[case.county]
            c = f["_c"]
            status = case.status
            c["cases"] += 1
            f["cases_by_stage"][status] += 1
            c["open_suspected_dropouts"] += status == "suspected"
            if status in ("confirmed", "legal"):
                c["confirmed_dropouts"] += 1
                if case.grade is not None:
                    c["confirmed_primary" if case.grade <= 6 else "confirmed_junior"] += 1
            if status == "returned" or (status == "closed" and case.close_reason == "returned"):
                c["returned"] += 1
            c["closed"] += status == "closed"
            c["not_dropout"] += case.outcome == "not_dropout"
            c["excluded"] += status == "excluded"
            if (status in ("confirmed", "legal", "suspected") and case.deadline_at is not None
                    and case.deadline_state == "pending" and case.deadline_at < now):
                c["overdue_deadlines"] += 1
            if case.outcome == "dropout":
                for cause in case.causes:
                    f["cases_by_cause"][cause] += 1
        for county, kind, groups in self.findings(now.date()):
            out[county]["_c"][kind] += 1
            for g in groups:
                out[county]["special_groups"][g] += 1
        return {county: {**dict(f.pop("_c")), **{k: dict(v) for k, v in f.items()}} for county, f in out.items()}

    def scorecards(self, now: datetime) -> dict[str, dict[str, Any]]:
        """Per county: the scorecard figures reporting must show at `now` (rates as reporting rounds them; the
        median days from a case's opening to the child's return, over cases returned or closed as returned; open
        cases without an owner on both lines: casework fills the government line from the township's map and the
        education line from the child's school, so only a census child never registered at a school lacks one —
        a registered child's school, a transferred or graduated child's last school, give the education line)."""
        out = {}
        days: dict[str, list[int]] = defaultdict(list)
        unowned: Counter = Counter()
        unregistered = {id(c) for c in self.extra_cases}
        for case in self.all_cases():
            status = case.status
            back = status == "returned" or (status == "closed" and case.close_reason == "returned")
            if back and case.returned_on is not None and case.opened_on is not None:
                days[case.county].append((case.returned_on - case.opened_on).days)
            if status in ("suspected", "confirmed", "legal", "returned") and id(case) in unregistered:
                unowned[case.county] += 1
        for county, f in self.figures(now).items():
            confirmed, returned, enrolled = f["confirmed_dropouts"], f["returned"], f["enrolled"]
            out[county] = {
                "dropout_rate": round(confirmed / enrolled, 6) if enrolled else None,
                "return_rate": round(returned / (returned + confirmed), 6) if returned + confirmed else None,
                "overdue_deadlines": f["overdue_deadlines"],
                "median_days_to_return": median(days[county]) if days[county] else None,
                "unowned_cases": unowned[county],
            }
        return out

    # -- supervision (督导考核): monthly report timeliness ---------------------------------------------
    def report_submitted(self, county: str, month: str, on_time: bool) -> None:
        """A county submitted its report for the month, by the due day or after it."""
        self.timeliness[(county, month)] = on_time

    def report_timeliness(self, month: str) -> dict[str, dict[str, Any]]:
        """Per county with a report of the month: the scorecard's share on time (its own report) and lates."""
        return {county: {"report_on_time": 1.0 if on_time else 0.0, "reports_late": 0 if on_time else 1}
                for (county, m), on_time in sorted(self.timeliness.items()) if m == month}

    def findings(self, as_of: date) -> list[tuple[str, str, tuple[str, ...]]]:
        """The registry's open findings as a comparison run on `as_of` leaves them: county, kind, special groups
        (reporting counts each kind and the groups of the children found)."""
        out = [(county, "out_of_school", groups) for county, groups, _ in self.out_of_school]
        for county, on, sid in self.transfers_out:
            if (as_of - on).days > self.lost_transfer_days:
                out.append((county, "transfer_lost", self.students[sid].groups))
        for county, on, sid in self.graduates:
            if as_of >= (self.transition_deadline or date(on.year + (on.month >= 9), 9, 1)):
                out.append((county, "transition_missed", self.students[sid].groups))
        return out

    def transfer_lost(self, as_of: date, days: int | None = None) -> dict[str, int]:
        """Lost transfers the registry's comparison finds on `as_of` (transferred out more than `days` ago)."""
        found: Counter = Counter()
        days = self.lost_transfer_days if days is None else days
        for county, day, _ in self.transfers_out:
            found[county] += (as_of - day).days > days
        return dict(found)

    def case_statuses(self) -> dict[str, str]:
        """Expected ledger status per case id (cases the simulator has seen the id of)."""
        return {c.case_id: c.status for c in self.all_cases() if c.case_id}


# -- reconciliation --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    source: str
    unit: str
    measure: str
    expected: Any
    reported: Any

    @property
    def ok(self) -> bool:
        return self.expected == self.reported


def compare(source: str, expected: dict[str, dict[str, Any]], reported: dict[str, dict[str, Any] | None],
            measures: Iterable[str] = MEASURES + DICT_MEASURES) -> list[Row]:
    """One row per unit and measure; a unit reporting nothing at all compares as None."""
    rows = []
    for unit in sorted(expected):
        got = reported.get(unit) or {}
        for m in measures:
            if m not in expected[unit]:
                continue
            want, have = expected[unit][m], got.get(m)
            if isinstance(want, dict):
                want = {k: v for k, v in want.items() if v}
                have = {k: v for k, v in (have or {}).items() if v} if isinstance(have, dict) or have is None else have
            rows.append(Row(source, unit, m, want, have))
    return rows


def table(rows: list[Row], only_differences: bool = False) -> str:
    """The reconciliation as a plain text table (expected vs reported per unit and measure)."""
    shown = [r for r in rows if not (only_differences and r.ok)]
    head = ("source", "unit", "measure", "expected", "reported", "")
    lines = [head] + [(r.source, r.unit, r.measure, _fmt(r.expected), _fmt(r.reported), "ok" if r.ok else "DIFF")
                      for r in shown]
    widths = [max(_width(line[i]) for line in lines) for i in range(len(head))]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(line, widths)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _fmt(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in sorted(value.items())) or "-"
    return "-" if value is None else str(value)


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def by_county(truth_cases: Iterable[CaseTruth]) -> dict[str, Counter]:
    """Expected ledger statuses per county (for the ledger check)."""
    out: dict[str, Counter] = defaultdict(Counter)
    for case in truth_cases:
        out[case.county][case.status] += 1
    return out
