"""Generated event histories of a small province (tests and the rebuild benchmark): schools, students,
absences, suspected dropouts and cases through their whole life, with realistic event times."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterator

from contracts import Contract
from contracts.events import attendance as a
from contracts.events import casework as c
from contracts.events import registry as r

T0 = datetime(2025, 9, 1, 1, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Generated:
    """One event to publish: its payload, the aggregate it belongs to and when it happened."""

    payload: Contract
    subject: str
    time: datetime


def _id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128)))


def history(seed: int = 1, prefectures: int = 2, counties: int = 2, townships: int = 2, schools: int = 2,
            students: int = 10, case_share: float = 0.3) -> Iterator[Generated]:
    """Events in time order; about a third of students get absences, a detection and a case. The divisions are
    registered first (one township per county is renamed from October, one merged in November) and about a
    quarter of the students have special groups (their own random stream, so the cases stay as they were)."""
    rng = random.Random(seed)
    extra = random.Random(seed * 7919)
    yield from _divisions(prefectures, counties, townships)
    t = T0
    tick = lambda minutes=7: t + timedelta(minutes=minutes)  # noqa: E731
    for pf in range(1, prefectures + 1):
        for co in range(1, counties + 1):
            for tw in range(1, townships + 1):
                township = f"52{pf:02d}{co:02d}{tw:03d}"
                for sc in range(schools):
                    school_id = _id(rng)
                    level = rng.choice(["primary", "junior"])
                    t = tick()
                    yield Generated(r.SchoolRegisteredV1(
                        school_id=school_id, code=f"S{township}{sc}", name=f"{township[-3:]}乡第{sc + 1}学校",
                        level=level, county_code=township[:6], township_code=township), school_id, t)
                    for n in range(students):
                        student_id = _id(rng)
                        grade = rng.randint(1, 6) if level == "primary" else rng.randint(7, 9)
                        t = tick(1)
                        yield Generated(r.StudentEnrolledV1(
                            student_id=student_id, school_id=school_id, county_code=township[:6],
                            township_code=township, grade=grade, class_name=f"{grade}({n % 3 + 1})班",
                            name_masked="张*" + "三四五六"[n % 4], id_number_masked=township[:6] + "********" + f"{n:04d}"),
                            student_id, t)
                        if extra.random() < 0.25:
                            yield _groups(extra, student_id, township, t)
                        if rng.random() < case_share:
                            yield from _case(rng, student_id, school_id, township, t + timedelta(days=rng.randint(1, 40)))


def _divisions(prefectures: int, counties: int, townships: int) -> Iterator[Generated]:
    at, since = T0 - timedelta(days=1), date(2025, 1, 1)

    def registered(code: str, name: str, level: str, parent: str | None) -> Generated:
        return Generated(r.JurisdictionRegisteredV1(code=code, name=name, level=level, parent_code=parent,
                                                    effective_from=since), f"division:{code}", at)

    yield registered("520000", "贵州省", "province", None)
    for pf in range(1, prefectures + 1):
        yield registered(f"52{pf:02d}00", f"第{pf}市", "prefecture", "520000")
        for co in range(1, counties + 1):
            county = f"52{pf:02d}{co:02d}"
            yield registered(county, f"{pf}市{co}县", "county", f"52{pf:02d}00")
            for tw in range(1, townships + 1):
                yield registered(f"{county}{tw:03d}", f"{co}县{tw}镇", "township", county)
    for pf in range(1, prefectures + 1):
        for co in range(1, counties + 1):
            county = f"52{pf:02d}{co:02d}"
            yield Generated(r.JurisdictionChangedV1(code=f"{county}001", kind="renamed", name=f"{co}县1街道",
                                                    effective=date(2025, 10, 1)), f"division:{county}001", at)
            if townships > 1 and co == 1:
                yield Generated(r.JurisdictionChangedV1(code=f"{county}{townships:03d}", kind="merged",
                                                        successor_code=f"{county}001", effective=date(2025, 11, 1)),
                                f"division:{county}{townships:03d}", at)


def _groups(rng: random.Random, student_id: str, township: str, t: datetime) -> Generated:
    codes = rng.sample(["left_behind", "migrant", "disabled", "registered_poor", "orphan"], k=rng.randint(1, 2))
    groups = [r.SpecialGroup(group=g, since=date(2025, 7, 10), source="civil_affairs",
                             degree=str(rng.randint(1, 4)) if g == "disabled" else None,
                             until=date(2025, 9, 20) if rng.random() < 0.2 else None) for g in codes]
    return Generated(r.SpecialGroupsChangedV1(student_id=student_id, township_code=township, groups=groups),
                     f"child:{student_id}", t)


def _case(rng: random.Random, student_id: str, school_id: str, township: str, t: datetime) -> Iterator[Generated]:
    day = t.date()
    days = [day, day + timedelta(days=1)]
    for i, d in enumerate(days):
        yield Generated(a.AbsenceRecordedV1(student_id=student_id, school_id=school_id, township_code=township, day=d,
                                            consecutive_school_days=i + 1), f"{school_id}:{d}", t + timedelta(hours=i * 24))
    detection = _id(rng)
    t = t + timedelta(days=1, hours=1)
    yield Generated(a.SuspectedDropoutDetectedV1(
        detection_id=detection, student_id=student_id, school_id=school_id, township_code=township,
        absent_days=days, rule="consecutive_unexcused_absence", rule_version=1, threshold_days=2), student_id, t)
    if rng.random() < 0.15:
        yield Generated(a.AbsenceRetractedV1(student_id=student_id, school_id=school_id, township_code=township,
                                             day=days[1], reason="补录请假"), f"{school_id}:{days[1]}", t + timedelta(hours=3))
        yield Generated(a.SuspectedDropoutRetractedV1(
            detection_id=detection, student_id=student_id, school_id=school_id, township_code=township,
            corrected_day=days[1], reason="补录请假"), student_id, t + timedelta(hours=3))
        return
    case_id = _id(rng)
    t = t + timedelta(minutes=5)
    yield Generated(c.CaseOpenedV1(case_id=case_id, student_id=student_id, school_id=school_id, township_code=township,
                                   source="attendance", trigger_id=detection, opened_at=t), case_id, t)
    t = t + timedelta(hours=2)
    yield Generated(c.CaseOwnersAssignedV1(case_id=case_id, township_code=township, automatic=True, assigned_at=t, owners=[
        c.OwnerChange(slot="township", line="government", user_id="gov-" + township[-3:]),
        c.OwnerChange(slot="head_teacher", line="education", user_id="ht-" + school_id[:4])]), case_id, t)
    if rng.random() < 0.2:
        t = t + timedelta(days=2)
        yield Generated(c.CaseVerifiedV1(case_id=case_id, student_id=student_id, township_code=township,
                                         outcome="not_dropout", reason="in_school_elsewhere", verified_at=t), case_id, t)
        yield Generated(c.CaseClosedV1(case_id=case_id, student_id=student_id, township_code=township,
                                       reason="in_school_elsewhere", evidence_count=1, closed_at=t), case_id, t)
        return
    if rng.random() < 0.2:
        return  # still suspected
    t = t + timedelta(days=3)
    causes = rng.sample(["learning_difficulty", "working_away", "poverty", "family"], k=rng.randint(1, 2))
    yield Generated(c.CaseVerifiedV1(case_id=case_id, student_id=student_id, township_code=township, outcome="dropout",
                                     causes=causes, verified_at=t), case_id, t)
    if rng.random() < 0.4:
        t = t + timedelta(days=5)
        yield Generated(c.CaseEscalatedV1(case_id=case_id, student_id=student_id, township_code=township,
                                          step="return_notice", issued_at=t, deadline_at=t + timedelta(days=10),
                                          overridden=False, automatic=False), case_id, t)
        if rng.random() < 0.5:
            yield Generated(c.CaseDeadlinePassedV1(case_id=case_id, township_code=township, timer_id=_id(rng),
                                                   kind="ladder", step="return_notice", due_at=t + timedelta(days=10),
                                                   action="alert"), case_id, t + timedelta(days=10))
            return
    if rng.random() < 0.6:
        t = t + timedelta(days=rng.randint(3, 20))
        back = t.date()
        yield Generated(c.CaseReturnedV1(case_id=case_id, student_id=student_id, township_code=township,
                                         source="attendance", returned_on=back,
                                         follow_up_until=back + timedelta(days=60)), case_id, t)


def days_between(first: date, last: date) -> int:
    return (last - first).days
