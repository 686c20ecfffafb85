"""One school day: who is present, on leave or absent (and who drops out or falls ill), leave synced or entered,
check-ins pushed, the counties' day closed, the pipeline waited for, then casework and transfers."""

from __future__ import annotations

import time
from datetime import date

from simulator.base import SimulationBase
from simulator.clock import at
from simulator.options import DAILY_MEASURES, OTHER_CAUSES, Plan
from simulator.province import CAUSES_BY_GROUP, RISKY, County
from simulator.truth import StudentTruth


class SchoolDays(SimulationBase):
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
