"""Setting up the province through the public APIs: divisions, calendars, rules, schools, registrations, the
population, summer graduates, responsibility maps; then waiting until attendance has every roster."""

from __future__ import annotations

import time
from datetime import date, timedelta

from simulator.base import SimulationBase
from simulator.province import population_csv, students_csv
from simulator.truth import StudentTruth


class ProvinceSetup(SimulationBase):
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
