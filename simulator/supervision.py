"""督导考核问责 in the term, through the public APIs: the directory's county and prefecture officers, the monthly
reports of the first month that ends (every county submits on time but one, which submits after the due day once
the scheduler flagged it overdue), and a supervision inspection with a finding against every county (the first
county rectifies in time and is accepted; the last lets its deadline pass, and the scheduler's timer escalates the
finding to its prefecture). The truth records what must follow; ``supervision_rows`` reads it all back."""

from __future__ import annotations

import hashlib
import time
from datetime import date, timedelta
from typing import Any

from simulator.api import ApiError
from simulator.base import SimulationBase
from simulator.truth import Row

RECTIFY_DAYS = 7  # the rectification deadline, from the term's first day


def _evidence(what: str, code: str = "photo") -> list[dict[str, str]]:
    return [{"sha256": hashlib.sha256(what.encode()).hexdigest(), "code": code}]


class Supervision(SimulationBase):
    """The supervision steps of a term, one call per calendar day (``supervise``)."""

    def _province(self) -> dict[str, str]:
        return self.api.token("province_officer", self.o.province)

    def _supervision_state(self) -> dict[str, Any]:
        """What supervision did so far (the inspection, findings and reports by county, the late county)."""
        return self.supervision

    # -- the term's steps -------------------------------------------------------------------------
    def supervise(self, day: date) -> None:
        """What supervision does on a calendar day of the term (before the day's school work)."""
        sv = self._supervision_state()
        try:
            if day == self.calendar_days[0]:
                self._directory()
                self._inspect(day)
            if sv["inspection"] and day == self.calendar_days[0] + timedelta(days=3):
                self._rectify_first()
            if sv["month"] is None and day.day == 1 and day != self.calendar_days[0]:
                self._submit_reports(day)
            if sv["late"] and not sv["late_submitted"] and day.day > self.o.reporting_due_day and (
                    f"{day:%Y-%m}" > sv["month"]):
                self._submit_late()
        except ApiError as exc:
            self.stats.api_errors.append(f"supervision on {day}: {exc}"[:300])

    def _directory(self) -> None:
        """Names a county officer per county and a prefecture officer per prefecture (the directory)."""
        prefectures = sorted({c.code[:4] for c in self.counties})
        people = [{"jurisdiction_code": p, "role": "prefecture_officer", "user_id": f"pref-{p}",
                   "name": "市州教育局督导科"} for p in prefectures]
        people += [{"jurisdiction_code": c.code, "role": "county_officer", "user_id": f"cty-{c.code}",
                    "name": "县教育局控辍办"} for c in self.counties]
        self.api.post("notifications", "/v1/recipients/import", self._province(), json={"recipients": people})

    def _inspect(self, day: date) -> None:
        """The province inspects: a finding against every county, rectification ordered by a deadline."""
        sv = self._supervision_state()
        body = self.api.post("reporting", "/v1/inspections", self._province(), json={
            "key": f"sim-{self.run}", "code": self.o.province, "title": "秋季学期控辍保学专项督导",
            "planned_on": day.isoformat()}).json()
        sv["inspection"] = iid = body["inspection_id"]
        deadline = self.calendar_days[0] + timedelta(days=RECTIFY_DAYS)
        for county in self.counties:
            fid = f"owners-{county.code}"
            self.api.post("reporting", f"/v1/inspections/{iid}/findings", self._province(), json={
                "finding_id": fid, "unit_code": county.code, "school_id": None, "description_code": "owner_missing",
                "severity": "serious", "evidence": _evidence(f"{self.run}:{fid}")})
            self.api.post("reporting", f"/v1/inspections/{iid}/findings/{fid}/order", self._province(),
                          json={"deadline": deadline.isoformat()})
            sv["findings"][county.code] = {"finding_id": fid, "deadline": deadline, "status": "pending",
                                           "escalated_to": None}
        # the last county lets the deadline pass: escalated to its prefecture (only one county: it is the one)
        late = sv["findings"][self.counties[-1].code]
        late.update(status="overdue", escalated_to=self.counties[-1].code[:4])

    def _rectify_first(self) -> None:
        """The first county reports its rectification in time and the province accepts it."""
        sv = self._supervision_state()
        if len(self.counties) < 2:
            return
        code = self.counties[0].code
        fid, iid = sv["findings"][code]["finding_id"], sv["inspection"]
        self.api.post("reporting", f"/v1/inspections/{iid}/findings/{fid}/report", self.officer(code),
                      json={"evidence": _evidence(f"{self.run}:{fid}:done", "rectification_report")})
        self.api.post("reporting", f"/v1/inspections/{iid}/findings/{fid}/accept", self._province())
        sv["findings"][code]["status"] = "accepted"

    def _submit_reports(self, day: date) -> None:
        """The first days of a month: last month sealed, every county submits its report — but the last county."""
        sv = self._supervision_state()
        month = f"{day - timedelta(days=day.day):%Y-%m}"
        province = self._province()
        self.api.post("reporting", "/v1/reports/seal", province, params={"month": month})
        listing = self.api.get("reporting", "/v1/reports", province, params={"month": month})["items"]
        ids = {i["code"]: i["report_id"] for i in listing if i.get("level") == "county"}
        sv["month"], sv["late"] = month, self.counties[-1].code
        for county in self.counties:
            if county.code not in ids:
                sv["skipped"].append(county.code)
                continue
            sv["reports"][county.code] = ids[county.code]
            if county.code != sv["late"]:
                self.api.post("reporting", f"/v1/reports/{ids[county.code]}/submit", self.officer(county.code))
                self.truth.report_submitted(county.code, month, on_time=True)

    def _submit_late(self) -> None:
        """After the due day: once the scheduler has flagged the late county's report overdue, it submits."""
        sv = self._supervision_state()
        rid = sv["reports"].get(sv["late"])
        if rid is None:
            return
        province, deadline = self._province(), time.monotonic() + self.o.barrier_timeout
        while time.monotonic() < deadline:
            report = self.api.get("reporting", f"/v1/reports/{rid}", province)
            if any(h.get("action") == "overdue" for h in report.get("history", [])):
                break
            time.sleep(0.5)
        self.api.post("reporting", f"/v1/reports/{rid}/submit", self.officer(sv["late"]))
        self.truth.report_submitted(sv["late"], sv["month"], on_time=False)
        sv["late_submitted"] = True

    # -- reading it back --------------------------------------------------------------------------
    def supervision_rows(self) -> list[Row]:
        """Scorecard timeliness of the reports' month, the inspection's findings, and who was told."""
        sv = self._supervision_state()
        rows: list[Row] = []
        if sv["month"] is not None and sv["late_submitted"]:
            rows += self._timeliness_rows(sv["month"])
        elif sv["month"] is None:
            rows.append(Row("supervision", "all", "a month's reports due in the term", True, False))
        if sv["inspection"]:
            rows += self._inspection_rows()
        return rows

    def _timeliness_rows(self, month: str) -> list[Row]:
        from simulator.truth import compare

        expected = self.truth.report_timeliness(month)
        reported: dict[str, dict[str, Any] | None] = {code: None for code in expected}
        province = self._province()
        for prefecture in sorted({code[:4] for code in expected}):
            body = self.api.get("reporting", f"/v1/scorecards/{prefecture}", province,
                                params={"period": month, "level": "county"})
            for unit in body.get("ranking", []):
                if unit.get("code") in reported:
                    f = unit["figures"]["report_on_time"]
                    reported[unit["code"]] = {"report_on_time": f["value"], "reports_late": f["late"]}
        rows = compare(f"scorecard {month}", expected, reported, ("report_on_time", "reports_late"))
        late = self._supervision_state()["late"]
        want = {c.code: int(c.code == late) for c in self.counties}
        got = self._told("monthly_report_overdue", "prefecture_officer", want)
        rows += [Row("notifications", code, "late report told to the prefecture", want[code], got.get(code, 0))
                 for code in want]
        return rows

    def _inspection_rows(self) -> list[Row]:
        sv = self._supervision_state()
        iid, province = sv["inspection"], self._province()
        rows: list[Row] = []
        deadline = time.monotonic() + self.o.barrier_timeout
        while True:  # the scheduler's timer escalates within a tick of the clock passing the deadline
            found = {f["unit_code"]: f for f in self.api.get("reporting", f"/v1/inspections/{iid}",
                                                              province)["findings"]}
            if all(found.get(c, {}).get("status") == f["status"] for c, f in sv["findings"].items()) or (
                    time.monotonic() > deadline):
                break
            time.sleep(0.5)
        for code, f in sv["findings"].items():
            got = found.get(code, {})
            rows.append(Row("inspection", code, "finding status", f["status"], got.get("status")))
            rows.append(Row("inspection", code, "escalated to", f["escalated_to"], got.get("escalated_to")))
        want = {c: int(f["status"] == "overdue") for c, f in sv["findings"].items()}
        up = self._told("inspection_finding_escalated", "prefecture_officer", want)
        rows += [Row("notifications", code, "escalation told to the prefecture", n, up.get(code, 0))
                 for code, n in want.items()]
        reminded = self._told("inspection_rectification_due", "county_officer", {c: 1 for c in want if want[c]},
                              at_least=True)
        rows += [Row("notifications", code, "rectification reminders sent (>= 1)", True, reminded.get(code, 0) >= 1)
                 for code, n in want.items() if n]
        ordered = self._told("inspection_rectification_ordered", "county_officer", {c: 1 for c in want})
        rows += [Row("notifications", code, "rectification order told to the county", 1, ordered.get(code, 0))
                 for code in want]
        return rows

    def _told(self, template: str, role: str, want: dict[str, int], at_least: bool = False) -> dict[str, int]:
        """Sent notifications of a template to a directory role, per unit (the county the message is about), once
        the consumer caught up with what ``want`` expects (or the barrier timeout passed)."""
        province = self._province()
        deadline = time.monotonic() + self.o.barrier_timeout
        while True:
            items = self.api.get("notifications", "/v1/notifications", province,
                                 params={"template": template, "limit": 1000})
            got: dict[str, int] = {}
            for n in items:
                if n["recipient_role"] == role and n["status"] == "sent":
                    unit = self._unit_of(n, template)
                    got[unit] = got.get(unit, 0) + 1
            done = all((got.get(c, 0) >= n) if at_least else got.get(c, 0) == n for c, n in want.items())
            if done or time.monotonic() > deadline:
                return got
            time.sleep(0.5)

    def _unit_of(self, n: dict[str, Any], template: str) -> str:
        """Which county a notification is about: the code it was requested for; an escalation is requested for
        the prefecture, so its trigger (``<inspection>:owners-<county>:<deadline>``) names the county."""
        if template == "inspection_finding_escalated":
            trigger = n.get("trigger_id") or ""
            return trigger.split("owners-", 1)[-1].split(":", 1)[0]
        return n["township_code"][:6]
