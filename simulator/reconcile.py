"""Reading what reporting says (dashboards, ledger, monthly reports) and comparing it with the truth: the barrier
after each close and month end, and the reconciliation at the end of the term."""

from __future__ import annotations

import time
from typing import Any

from simulator.api import ApiError
from simulator.base import SimulationBase
from simulator.options import BARRIER_MEASURES
from simulator.truth import Row, compare


class Reconciliation(SimulationBase):
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
        rows += self.scorecard_rows()
        rows += self.supervision_rows()  # type: ignore[attr-defined]  (simulator/supervision.py)
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

    def scorecard_rows(self) -> list[Row]:
        """Each county's scorecard figures this month (the ranking of its prefecture's counties) against the truth."""
        expected = self.truth.scorecards(self.now)
        province = self.api.token("province_officer", self.o.province)
        reported: dict[str, dict[str, Any] | None] = {code: None for code in expected}
        for prefecture in sorted({code[:4] for code in expected}):
            try:
                body = self.api.get("reporting", f"/v1/scorecards/{prefecture}", province,
                                    params={"period": f"{self.now:%Y-%m}", "level": "county"})
            except ApiError as exc:
                self.stats.api_errors.append(f"scorecards unavailable: {exc}"[:300])
                continue
            for unit in body.get("ranking", []):
                if unit.get("code") in reported:
                    reported[unit["code"]] = {k: f["value"] for k, f in unit["figures"].items()}
        return compare("scorecard", expected, reported, ("dropout_rate", "return_rate", "overdue_deadlines",
                                                         "median_days_to_return", "unowned_cases"))

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
