"""Children moving between schools of a county (转出 → 转入), and the roster changes attendance learns over Kafka."""

from __future__ import annotations

import time
from datetime import date
from typing import Any, Callable

from simulator.api import ApiError
from simulator.base import SimulationBase


class Transfers(SimulationBase):
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
