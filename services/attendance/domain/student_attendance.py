"""A student's attendance record (StudentAttendance): absences, streaks and the flags they raise (疑似辍学, chronic).

Pure: no I/O, no settings, no clock. Rules raise named errors carrying the rule they enforce.
"""

from __future__ import annotations

import math
import uuid
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.attendance.domain.calendar import Term
from services.attendance.domain.errors import InvalidInput
from services.attendance.domain.rules import CHRONIC_ABSENCE_RULE, CONSECUTIVE_ABSENCE_RULE, TERM_START_RULE, AbsenceRules
from services.attendance.domain.school_day import NAMESPACE

CONSECUTIVE_ABSENCE_RULE_VERSION = 1


def chronic_threshold(ratio: float, term_school_days: int) -> int:
    """Unexcused absences in a term that make chronic absence: ``ceil(ratio × term school days)``."""
    return math.ceil(ratio * term_school_days)


def student_attendance_id(student_id: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"student-attendance:{student_id}")


def detection_id_for(student_id: str, streak_start: date, rule: str = CONSECUTIVE_ABSENCE_RULE) -> uuid.UUID:
    """One detection per absence streak: re-running the rule cannot flag the same streak twice."""
    key = f"suspected-dropout:{student_id}:{streak_start.isoformat()}"
    return uuid.uuid5(NAMESPACE, key if rule == CONSECUTIVE_ABSENCE_RULE else f"{key}:{rule}")


class StudentAttendance(Aggregate):
    """A student's unexcused absences, the current streak of consecutive school days absent, and open flags."""

    @event("Started")
    def __init__(self, student_id: str, school_id: str, township_code: str, meta: dict[str, Any]):
        self.student_id = student_id
        self.school_id = school_id
        self.township_code = township_code
        self.meta = meta
        self.absences = 0
        self.absent_days: list[date] = []
        self.last_absent_day: date | None = None
        self.streak_days: list[date] = []
        self.open_detection_id: str | None = None
        self.open_detection_days: list[date] = []
        self.detection_ids: list[str] = []
        self.chronic_terms: list[date] = []  # every term ever flagged, once per flag
        self.chronic_flags: dict[date, dict[str, Any]] = {}  # the open flag of each term: id, end, days, ratio

    @staticmethod
    def create_id(student_id: str, **_: Any) -> uuid.UUID:
        return student_attendance_id(student_id)

    @property
    def consecutive_school_days(self) -> int:
        return len(self.streak_days)

    def record_absence(
        self,
        day: date,
        previous_school_day: date | None,
        threshold: int,
        meta: dict[str, Any],
        school_id: str | None = None,
        township_code: str | None = None,
        rule_version: int = CONSECUTIVE_ABSENCE_RULE_VERSION,
    ) -> bool:
        """Records an unexcused absence; flags 疑似辍学 when the streak reaches the threshold. False if already recorded."""
        if threshold < 1:
            raise InvalidInput("连续缺勤阈值须至少为1天", rule="threshold_positive")
        if day in self.absent_days or day in self.streak_days or day == self.last_absent_day:
            return False
        school_id = school_id or self.school_id
        township_code = township_code or self.township_code
        if self.last_absent_day is not None and day < self.last_absent_day:
            # A day closed late: recorded, but the streak is not recomputed backwards.
            self._absence_recorded(
                student_id=self.student_id,
                day=day,
                school_id=school_id,
                township_code=township_code,
                consecutive_school_days=1,
                meta=meta,
            )
            return True
        continuing = previous_school_day is not None and previous_school_day == self.last_absent_day
        consecutive = len(self.streak_days) + 1 if continuing else 1
        self._absence_recorded(
            student_id=self.student_id,
            day=day,
            school_id=school_id,
            township_code=township_code,
            consecutive_school_days=consecutive,
            meta=meta,
        )
        self._detect_streak(threshold, rule_version, school_id, township_code, meta)
        return True

    def _detect_streak(self, threshold: int, rule_version: int, school_id: str, township_code: str, meta: dict[str, Any]) -> None:
        if self.consecutive_school_days >= threshold and self.open_detection_id is None:
            self._suspected_dropout_detected(
                student_id=self.student_id,
                detection_id=str(detection_id_for(self.student_id, self.streak_days[0])),
                absent_days=list(self.streak_days),
                rule=CONSECUTIVE_ABSENCE_RULE,
                rule_version=rule_version,
                threshold_days=threshold,
                school_id=school_id,
                township_code=township_code,
                meta=meta,
            )

    def flag_chronic(self, term: Term, term_school_days: int, rules: AbsenceRules, meta: dict[str, Any]) -> bool:
        """Flags 经常性缺勤 when absences reach the rule's share of the term's school days: one open flag per term.

        A flag withdrawn by a correction may be raised again by later absences, under a new id (new evidence).
        """
        if term.start in self.chronic_flags or term_school_days < 1:
            return False
        days = [d for d in self.absent_days if term.start <= d <= term.end]
        if len(days) < chronic_threshold(rules.chronic_ratio, term_school_days):
            return False
        earlier = self.chronic_terms.count(term.start)
        key = f"chronic:{self.student_id}:{term.start.isoformat()}" + (f":{earlier}" if earlier else "")
        self._chronic_absence_flagged(
            student_id=self.student_id,
            flag_id=str(uuid.uuid5(NAMESPACE, key)),
            term_start=term.start,
            term_end=term.end,
            term_school_days=term_school_days,
            absent_days=days,
            rule=CHRONIC_ABSENCE_RULE,
            rule_version=rules.version,
            threshold_ratio=float(rules.chronic_ratio),
            school_id=self.school_id,
            township_code=self.township_code,
            meta=meta,
        )
        return True

    def flag_not_returned(self, days: list[date], rules: AbsenceRules, meta: dict[str, Any]) -> bool:
        """返校核查: not seen in the term's first school days → 疑似辍学 (unless a flag is already open)."""
        if self.open_detection_id is not None or not days:
            return False
        self._suspected_dropout_detected(
            student_id=self.student_id,
            detection_id=str(detection_id_for(self.student_id, days[0], TERM_START_RULE)),
            absent_days=list(days),
            rule=TERM_START_RULE,
            rule_version=rules.version,
            threshold_days=len(days),
            school_id=self.school_id,
            township_code=self.township_code,
            meta=meta,
        )
        return True

    def resume(self, day: date, school_id: str, township_code: str, meta: dict[str, Any]) -> bool:
        """A check-in after a suspected dropout (复学到校) resolves the open detection; False if none is open."""
        if self.open_detection_id is None or (self.last_absent_day is not None and day <= self.last_absent_day):
            return False
        self._attendance_resumed(
            student_id=self.student_id,
            detection_id=self.open_detection_id,
            day=day,
            school_id=school_id,
            township_code=township_code,
            meta=meta,
        )
        return True

    def retract_absence(self, day: date, reason: str, rules: AbsenceRules, meta: dict[str, Any]) -> bool:
        """Undoes an absence corrected away, and withdraws a flag whose evidence included it; False if none.

        A suspected dropout whose streak held the day is retracted (and re-detected if the rest still reaches the
        threshold); a chronic-absence flag of the day's term is retracted when the term's absences fall back under
        the threshold it was raised with (its own ratio and term length, not today's rules).
        """
        if day not in self.absent_days:
            return False
        self._absence_retracted(
            student_id=self.student_id, day=day, reason=reason, school_id=self.school_id, township_code=self.township_code, meta=meta
        )
        if self.open_detection_id is not None and day in self.open_detection_days:
            self._suspected_dropout_retracted(
                student_id=self.student_id,
                detection_id=self.open_detection_id,
                corrected_day=day,
                reason=reason,
                school_id=self.school_id,
                township_code=self.township_code,
                meta=meta,
            )
            self._detect_streak(rules.consecutive_days, rules.version, self.school_id, self.township_code, meta)
        self._withdraw_chronic(day, reason, meta)
        return True

    def _withdraw_chronic(self, day: date, reason: str, meta: dict[str, Any]) -> None:
        for term_start, flag in list(self.chronic_flags.items()):
            if not term_start <= day <= flag["term_end"]:
                continue
            remaining = [d for d in self.absent_days if term_start <= d <= flag["term_end"]]
            threshold = chronic_threshold(flag["threshold_ratio"], flag["term_school_days"])
            if len(remaining) < threshold:
                self._chronic_absence_retracted(
                    student_id=self.student_id,
                    flag_id=flag["flag_id"],
                    term_start=term_start,
                    term_end=flag["term_end"],
                    corrected_day=day,
                    absent_days=remaining,
                    threshold_days=threshold,
                    reason=reason,
                    school_id=self.school_id,
                    township_code=self.township_code,
                    meta=meta,
                )

    @event("AbsenceRecorded")
    def _absence_recorded(
        self,
        student_id: str,
        day: date,
        school_id: str,
        township_code: str,
        consecutive_school_days: int,
        meta: dict[str, Any],
    ) -> None:
        self.school_id = school_id
        self.township_code = township_code
        self.meta = meta
        self.absences += 1
        self.absent_days = sorted([*self.absent_days, day])
        if self.last_absent_day is None or day > self.last_absent_day:
            self.last_absent_day = day
            self.streak_days = [*self.streak_days, day] if consecutive_school_days > 1 else [day]

    @event("AbsenceRetracted")
    def _absence_retracted(
        self, student_id: str, day: date, reason: str, school_id: str, township_code: str, meta: dict[str, Any]
    ) -> None:
        self.meta = meta
        self.absences -= 1
        self.absent_days = [d for d in self.absent_days if d != day]
        if day in self.streak_days:
            self.streak_days = [d for d in self.streak_days if d > day]
        if self.last_absent_day == day:
            self.last_absent_day = self.absent_days[-1] if self.absent_days else None

    @event("SuspectedDropoutDetected")
    def _suspected_dropout_detected(
        self,
        student_id: str,
        detection_id: str,
        absent_days: list[date],
        rule: str,
        rule_version: int,
        threshold_days: int,
        school_id: str,
        township_code: str,
        meta: dict[str, Any],
    ) -> None:
        self.meta = meta
        self.open_detection_id = detection_id
        self.open_detection_days = list(absent_days)
        self.detection_ids = [*self.detection_ids, detection_id]

    @event("SuspectedDropoutRetracted")
    def _suspected_dropout_retracted(
        self,
        student_id: str,
        detection_id: str,
        corrected_day: date,
        reason: str,
        school_id: str,
        township_code: str,
        meta: dict[str, Any],
    ) -> None:
        self.meta = meta
        self.open_detection_id = None
        self.open_detection_days = []

    @event("AttendanceResumed")
    def _attendance_resumed(
        self, student_id: str, detection_id: str, day: date, school_id: str, township_code: str, meta: dict[str, Any]
    ) -> None:
        self.meta = meta
        self.open_detection_id = None
        self.open_detection_days = []
        self.streak_days = []

    @event("ChronicAbsenceFlagged")
    def _chronic_absence_flagged(
        self,
        student_id: str,
        flag_id: str,
        term_start: date,
        term_end: date,
        term_school_days: int,
        absent_days: list[date],
        rule: str,
        rule_version: int,
        threshold_ratio: float,
        school_id: str,
        township_code: str,
        meta: dict[str, Any],
    ) -> None:
        self.meta = meta
        self.chronic_terms = [*self.chronic_terms, term_start]
        flag = {"flag_id": flag_id, "term_end": term_end, "term_school_days": term_school_days, "threshold_ratio": threshold_ratio}
        self.chronic_flags = {**getattr(self, "chronic_flags", {}), term_start: flag}

    @event("ChronicAbsenceRetracted")
    def _chronic_absence_retracted(
        self,
        student_id: str,
        flag_id: str,
        term_start: date,
        term_end: date,
        corrected_day: date,
        absent_days: list[date],
        threshold_days: int,
        reason: str,
        school_id: str,
        township_code: str,
        meta: dict[str, Any],
    ) -> None:
        self.meta = meta
        self.chronic_flags = {k: v for k, v in self.chronic_flags.items() if k != term_start}
