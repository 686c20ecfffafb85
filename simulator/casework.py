"""Casework by the owners: verification, home visits, help, persuasion, the legal ladder, returns and closure, and
the cases the registry's findings open (census, lost transfers, missed 小升初)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Callable

from simulator.api import ApiError
from simulator.base import SimulationBase
from simulator.clock import at
from simulator.options import Plan, evidence
from simulator.province import CAUSES_BY_GROUP, RISKY
from simulator.truth import CaseTruth, StudentTruth, Truth


class Casework(SimulationBase):
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
