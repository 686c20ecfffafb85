"""Comparisons that find children (四查三比对): population vs registration, transfers, 小升初. Pure.

Each finding is an aggregate with a reason code. When its source is corrected (the child is enrolled,
arrives, is admitted, dies, moves away, is deferred, or turns out not to be of compulsory age), the next
run retracts it with a compensating event carrying the reason; the same situation found again later is
re-identified on the same finding, so casework sees one thread per child and episode.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Iterable, Protocol

from eventsourcing.domain import Aggregate, event

from services.registry.domain.errors import InvalidInput
from services.registry.domain.registration import NAMESPACE

KINDS = ("out_of_school", "transfer_lost", "transition_missed")
IN_SCHOOL = ("enrolled", "suspended")
COMPULSORY_AGES = range(6, 16)  # 6-15 周岁


def finding_id_for(kind: str, student_id: str, episode: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"finding:{kind}:{student_id}:{episode}")


class Finding(Aggregate):
    """One comparison's finding about one child in one episode (a census year, a transfer, a graduation)."""

    @event("Identified")
    def __init__(self, kind: str, episode: str, student_id: str, school_id: str | None, township_code: str,
                 reason_code: str, evidence: dict[str, Any], meta: dict[str, Any]):
        if kind not in KINDS:
            raise InvalidInput(f"比对类型无效: {kind}", rule="finding_kind")
        self.kind, self.episode, self.student_id, self.school_id = kind, episode, student_id, school_id
        self.township_code, self.reason_code, self.evidence = township_code, reason_code, evidence
        self.open = True
        self.meta = meta

    @staticmethod
    def create_id(kind: str, student_id: str, episode: str, **_: Any) -> uuid.UUID:
        return finding_id_for(kind, student_id, episode)

    def retract(self, *, reason_code: str, evidence: dict[str, Any], meta: dict[str, Any]) -> bool:
        if not self.open:
            return False
        self._retracted(reason_code=reason_code, evidence=evidence, meta=meta)
        return True

    @event("Retracted")
    def _retracted(self, reason_code: str, evidence: dict[str, Any], meta: dict[str, Any]) -> None:
        self.open, self.meta = False, meta

    def reidentify(self, *, reason_code: str, evidence: dict[str, Any], township_code: str,
                   meta: dict[str, Any]) -> bool:
        if self.open:
            return False
        self._reidentified(reason_code=reason_code, evidence=evidence, township_code=township_code, meta=meta)
        return True

    @event("Reidentified")
    def _reidentified(self, reason_code: str, evidence: dict[str, Any], township_code: str,
                      meta: dict[str, Any]) -> None:
        self.open, self.reason_code, self.evidence, self.township_code, self.meta = (
            True, reason_code, evidence, township_code, meta)


# -- the rows comparisons read (from the registry's own read model) ----------------------------------
@dataclass(frozen=True)
class ChildRow:
    student_id: str
    township_code: str
    birth_date: date
    status: str  # active | deceased | moved_away | emigrated | merged
    deferred_until: date | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class StudentRow:
    student_id: str
    school_id: str
    township_code: str
    status: str
    since: date | None = None
    transfer_out_on: date | None = None
    graduated_on: date | None = None
    grade: int = 1
    closed_reason: str | None = None


@dataclass(frozen=True)
class OpenFinding:
    finding_id: str
    kind: str
    student_id: str
    episode: str


@dataclass(frozen=True)
class Verdict:
    """What a run decided about one child: identify (reason_code set) or retract (retract_reason set)."""

    kind: str
    student_id: str
    episode: str
    township_code: str
    school_id: str | None = None
    reason_code: str | None = None
    retract_reason: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rules:
    """Thresholds of the comparisons: the deployment default (settings, version 1) or a jurisdiction's own."""

    transfer_lost_days: int = 30
    school_year_start: tuple[int, int] = (9, 1)  # month, day: the autumn term (age cut-off is the day before)
    transition_deadline: tuple[int, int] | None = None  # 小升初 deadline (month, day); None: the school-year start
    version: int = 1
    jurisdiction: str = ""  # the prefix these rules were set for ("": the deployment default)

    def for_code(self, code: str) -> Rules:
        return self

    def stamp(self) -> dict[str, Any]:
        """What a finding records about the rules that produced it."""
        return {"jurisdiction": self.jurisdiction, "version": self.version,
                "transfer_lost_days": self.transfer_lost_days,
                "school_year_start": "{:02d}-{:02d}".format(*self.school_year_start),
                "transition_deadline": None if self.transition_deadline is None
                else "{:02d}-{:02d}".format(*self.transition_deadline)}


class RulesFor(Protocol):
    """Rules, or a rule book that answers the rules of the most specific jurisdiction covering a code."""

    def for_code(self, code: str) -> Rules: ...


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def school_year_start(day: date, rules: Rules) -> date:
    """The start of the school year 'day' falls in."""
    month, dom = rules.school_year_start
    start = date(day.year, month, dom)
    return start if day >= start else date(day.year - 1, month, dom)


def next_term_start(day: date, rules: Rules) -> date:
    """The first school-year start after 'day'."""
    start = date(day.year, *rules.school_year_start)
    return start if day < start else date(day.year + 1, *rules.school_year_start)


def transition_deadline(graduated: date, rules: Rules) -> date:
    """When a primary graduate must be registered at a junior school: the jurisdiction's 小升初 deadline
    after graduation if it set one, else the next school-year start."""
    if rules.transition_deadline is None:
        return next_term_start(graduated, rules)
    deadline = date(graduated.year, *rules.transition_deadline)
    return deadline if graduated < deadline else date(graduated.year + 1, *rules.transition_deadline)


def of_compulsory_age(birth: date, day: date, rules: Rules) -> bool:
    """6-15 周岁 on the cut-off before the current school year (a child who turns 6 later starts next year)."""
    return age_on(birth, school_year_start(day, rules) - timedelta(days=1)) in COMPULSORY_AGES


def census(children: Iterable[ChildRow], students: dict[str, StudentRow], open_findings: dict[str, OpenFinding],
           as_of: date, rules: RulesFor) -> list[Verdict]:
    """户籍 vs 学籍: a resident child of compulsory age with no registration is out of school (失学).

    Each child is judged by the rules of the most specific jurisdiction covering their township."""
    verdicts = []
    seen: set[str] = set()
    for child in children:
        seen.add(child.student_id)
        if child.status == "erased":
            continue  # erased (依法删除): nothing is judged on it again; its open finding stays as it was
        student = students.get(child.student_id)
        open_finding = open_findings.get(child.student_id)
        own = rules.for_code(child.township_code)
        reason = _accounted_for(child, student, as_of, own)
        if reason is None:
            if open_finding is None:
                episode = str(school_year_start(as_of, own).year)
                verdicts.append(Verdict("out_of_school", child.student_id, episode, child.township_code,
                                        reason_code="no_registration",
                                        evidence={"as_of": as_of.isoformat(), "flags": list(child.flags),
                                                  "age": age_on(child.birth_date, as_of), "rule": own.stamp()}))
        elif open_finding is not None:
            verdicts.append(Verdict("out_of_school", child.student_id, open_finding.episode, child.township_code,
                                    retract_reason=reason, evidence={"as_of": as_of.isoformat()}))
    for student_id, finding in open_findings.items():
        if student_id not in seen:  # the population record is gone (merged into another)
            verdicts.append(Verdict("out_of_school", student_id, finding.episode, "", retract_reason="record_merged",
                                    evidence={"as_of": as_of.isoformat()}))
    return verdicts


def _accounted_for(child: ChildRow, student: StudentRow | None, as_of: date, rules: Rules) -> str | None:
    """Why a child is not out of school (None: the child is)."""
    if child.status == "merged":
        return "record_merged"
    if child.status != "active":
        return child.status
    if not of_compulsory_age(child.birth_date, as_of, rules):
        return "not_compulsory_age"
    if child.deferred_until is not None and child.deferred_until >= as_of:
        return "deferred"
    if student is not None and student.status != "closed":
        # in school, or followed by the transfer and 小升初 comparisons, or finished compulsory education
        return "registered" if student.status in IN_SCHOOL else student.status
    if student is not None and student.closed_reason in ("deceased", "moved_away", "emigrated"):
        return student.closed_reason
    return None


def transfers(students: Iterable[StudentRow], open_findings: dict[str, OpenFinding], as_of: date,
              rules: RulesFor) -> list[Verdict]:
    """A transfer out not matched by a transfer in within N days (the leaving school's jurisdiction's N)."""
    verdicts = []
    for s in students:
        finding = open_findings.get(s.student_id)
        if s.status == "transferring_out" and s.transfer_out_on is not None:
            episode = s.transfer_out_on.isoformat()
            own = rules.for_code(s.township_code)
            limit = timedelta(days=own.transfer_lost_days)
            if as_of - s.transfer_out_on > limit and (finding is None or finding.episode != episode):
                verdicts.append(Verdict("transfer_lost", s.student_id, episode, s.township_code, s.school_id,
                                        reason_code="not_received_in_time",
                                        evidence={"transferred_out_on": episode, "days": own.transfer_lost_days,
                                                  "as_of": as_of.isoformat(), "rule": own.stamp()}))
            continue
        if finding is not None:
            verdicts.append(Verdict("transfer_lost", s.student_id, finding.episode, s.township_code, s.school_id,
                                    retract_reason=_moved_on(s, "transferred_in"),
                                    evidence={"as_of": as_of.isoformat()}))
    return verdicts


def transitions(students: Iterable[StudentRow], open_findings: dict[str, OpenFinding], as_of: date,
                rules: RulesFor) -> list[Verdict]:
    """小升初: a primary graduate with no junior registration by the deadline (default: the next term start)."""
    verdicts = []
    for s in students:
        finding = open_findings.get(s.student_id)
        if s.status == "graduated_primary" and s.graduated_on is not None:
            episode = str(s.graduated_on.year)
            own = rules.for_code(s.township_code)
            term = transition_deadline(s.graduated_on, own)
            if as_of >= term and (finding is None or finding.episode != episode):
                verdicts.append(Verdict("transition_missed", s.student_id, episode, s.township_code, s.school_id,
                                        reason_code="no_junior_registration",
                                        evidence={"graduated_on": s.graduated_on.isoformat(),
                                                  "term_started": term.isoformat(), "as_of": as_of.isoformat(),
                                                  "rule": own.stamp()}))
            continue
        if finding is not None:
            verdicts.append(Verdict("transition_missed", s.student_id, finding.episode, s.township_code, s.school_id,
                                    retract_reason=_moved_on(s, "admitted"),
                                    evidence={"as_of": as_of.isoformat()}))
    return verdicts


def _moved_on(s: StudentRow, in_school_reason: str) -> str:
    if s.status == "closed":
        return s.closed_reason or "closed"
    return in_school_reason if s.status in IN_SCHOOL else s.status
