"""Property: over generated provinces, no token of any role reads or writes anything outside its jurisdiction.

Every GET route of every service's OpenAPI document (records, lists, ledgers and their CSV/XLSX exports, BI
datasets, dashboards, monthly reports, the time-travel views with ``as_of`` and the verify API) is called by
drawn actors with the ids of subjects (schools, children, cases, divisions) inside and outside their jurisdiction;
the writes that name a subject are tried against subjects outside it. A subject belongs where it is registered
(its school's township), whatever the request says."""

from __future__ import annotations

import io
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from services.registry.domain.registration import id_number_check_digit
from services.runtime.auth import ROLES
from services.runtime.testing import auth
from tests.e2e.harness import Stack, running_stack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

SERVICES = ("registry", "attendance", "casework", "notifications", "reporting")
MON, TUE, WED = date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)
AS_OF = "2026-11-24"
PROVINCE_CODES = ("52", "53", "45", "51", "62", "63", "64", "65", "15", "36", "43", "41")
LEDGER_KINDS = ("cases", "children", "suspected")
OK = range(200, 300)


@dataclass
class World:
    """Every subject seeded so far (across examples) and where it belongs: a township code."""

    home: dict[str, str] = field(default_factory=dict)  # marker (id, id number, school name) -> township code
    schools: dict[str, str] = field(default_factory=dict)
    students: dict[str, str] = field(default_factory=dict)
    id_numbers: dict[str, str] = field(default_factory=dict)
    cases: dict[str, str] = field(default_factory=dict)
    reports: dict[str, str] = field(default_factory=dict)  # report id -> its unit's code
    provinces: set[str] = field(default_factory=set)


@dataclass
class Province:
    code: str
    counties: dict[str, list[str]]  # county code -> township codes

    @property
    def units(self) -> list[str]:
        prefectures = sorted({c[:4] for c in self.counties})
        townships = [t for ts in self.counties.values() for t in ts]
        return [self.code, *prefectures, *self.counties, *townships]


@st.composite
def provinces(draw) -> Province:
    code = draw(st.sampled_from(PROVINCE_CODES))
    counties: dict[str, list[str]] = {}
    for p in range(1, draw(st.integers(1, 2)) + 1):
        for c in range(1, draw(st.integers(1, 2)) + 1):
            county = f"{code}{p:02d}{c:02d}"
            counties[county] = [f"{county}{t:03d}" for t in range(1, draw(st.integers(1, 2)) + 1)]
    return Province(code, counties)


@pytest.fixture(scope="module")
def stack(database_url, tmp_path_factory):
    with running_stack(database_url, tmp_path_factory.mktemp("jurisdiction")) as s:
        yield s


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module")
def routes(stack) -> dict[str, list[tuple[str, str, dict]]]:
    """Every operation of every service's OpenAPI document: service -> [(method, path, operation)]."""
    found: dict[str, list[tuple[str, str, dict]]] = {}
    for service in SERVICES:
        doc = httpx.get(f"{stack.url(service)}/openapi.json", timeout=10).json()
        found[service] = [(m.upper(), path, op) for path, ops in doc["paths"].items() for m, op in ops.items()
                          if m in ("get", "post", "put", "delete", "patch")]
    return found


def child_body(county: str, seq: int, school_id: str) -> dict[str, Any]:
    body = f"{county}20150301{seq:03d}"
    return {"id_number": body + id_number_check_digit(body), "name": f"辖区童{seq}", "birth_date": "2015-03-01",
            "grade": 5, "class_name": "5-1", "guardian_name": "家长", "guardian_phone": "13800000000",
            "head_teacher_id": f"ht-{school_id[:8]}", "head_teacher_name": "王老师", "school_id": school_id}


def seed(stack: Stack, world: World, province: Province) -> None:
    """Schools, children and (two school days absent) a case in every township, through the public APIs."""
    reg, att, case = stack.url("registry"), stack.url("attendance"), stack.url("casework")
    for county, townships in province.counties.items():
        officer = auth("county_officer", county, user_id=f"co-{county}")
        for ti, township in enumerate(townships):
            name = f"辖区学校{township}"
            r = httpx.post(f"{reg}/v1/schools", headers=officer, timeout=20, json={
                "code": f"P{township}", "name": name, "level": "primary", "county_code": county,
                "township_code": township})
            assert r.status_code in (200, 201), r.text
            school = r.json()["school_id"]
            world.schools[school] = township
            world.home[school] = world.home[name] = township
            students = []
            for n in range(3):
                body = child_body(county, ti * 10 + n, school)
                r = httpx.post(f"{reg}/v1/students", headers=officer, json=body, timeout=20)
                assert r.status_code in (200, 201), r.text
                sid = r.json()["student_id"]
                students.append(sid)
                world.students[sid] = world.id_numbers[body["id_number"]] = township
                world.home[sid] = world.home[body["id_number"]] = township

            def roster_complete(school=school):
                r = httpx.get(f"{att}/v1/schools/{school}/roster", headers=officer, timeout=10)
                return r.status_code == 200 and r.json()["count"] == 3

            assert wait_until(roster_complete, timeout=60), stack.log_tail("attendance-consumer")
            gate = auth("attendance_system", county, user_id=f"gate-{county}", schools=[school])
            for day in (MON, TUE):
                items = [{"student_id": s, "status": "present", "checked_at": f"{day}T07:50:00+08:00",
                          "device": "gate-1"} for s in students[:2]]
                r = httpx.post(f"{att}/v1/schools/{school}/days/{day}/checkins", json={"items": items}, headers=gate,
                               timeout=30)
                assert r.status_code == 200, r.text
                r = httpx.post(f"{att}/v1/schools/{school}/days/{day}/close", headers=officer, timeout=60)
                assert r.status_code == 200, r.text
        expected = len(townships)

        def cases_opened(county=county, officer=officer, expected=expected):
            r = httpx.get(f"{case}/v1/cases", headers=officer, params={"limit": 200}, timeout=10)
            items = r.json()["items"] if r.status_code == 200 else []
            return items if len(items) >= expected else None

        items = wait_until(cases_opened, timeout=90)
        assert items, stack.log_tail("casework-consumer")
        for item in items:
            world.cases[item["case_id"]] = world.home[item["case_id"]] = item["township_code"]
    top = auth("province_officer", province.code, user_id=f"po-{province.code}")
    assert wait_until(lambda: len(_ledger(stack, top)) >= len(world_cases_in(world, province.code)), timeout=90), \
        stack.log_tail("reporting-consumer")
    r = httpx.get(f"{stack.url('reporting')}/v1/reports", headers=top, timeout=10)
    if r.status_code == 200:
        for report in _items(r.json()):
            if isinstance(report, dict) and report.get("report_id"):
                world.reports[str(report["report_id"])] = str(report.get("jurisdiction") or report.get("code") or
                                                              province.code)
    world.provinces.add(province.code)


def world_cases_in(world: World, code: str) -> list[str]:
    return [c for c, t in world.cases.items() if t.startswith(code)]


def _items(body: Any) -> list:
    return body.get("items", []) if isinstance(body, dict) else body if isinstance(body, list) else []


def _ledger(stack: Stack, headers: dict) -> list:
    r = httpx.get(f"{stack.url('reporting')}/v1/ledger", headers=headers, params={"page_size": 200}, timeout=10)
    return _items(r.json()) if r.status_code == 200 else []


@dataclass(frozen=True)
class Caller:
    role: str
    jurisdiction: str
    schools: tuple[str, ...] | None = None

    def headers(self) -> dict[str, str]:
        extra = {"schools": list(self.schools)} if self.schools is not None else {}
        return auth(self.role, self.jurisdiction, user_id=f"{self.role}-{self.jurisdiction}", **extra)

    def covers(self, township: str) -> bool:
        return township.startswith(self.jurisdiction)

    def beside(self, code: str) -> bool:
        """A division code neither inside nor around the caller's: nothing of it may be shown."""
        return not (code.startswith(self.jurisdiction) or self.jurisdiction.startswith(code))


def text_of(response: httpx.Response) -> str:
    """A response body as text, XLSX workbooks unpacked (a leak in a cell is a leak)."""
    if response.content[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(response.content)) as z:
                return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml"))
        except zipfile.BadZipFile:
            pass
    return response.text


def leaks(caller: Caller, world: World, body: str) -> list[str]:
    return [marker for marker, township in world.home.items() if not caller.covers(township) and marker in body]


PARAM_PATTERN = re.compile(r"{(\w+)}")


def fillings(name: str, world: World, caller: Caller, data) -> list[tuple[str, str | None]]:
    """Values for a path parameter: (value, township or division it belongs to, None when it names no subject)."""

    def pick(pool: dict[str, str]) -> list[tuple[str, str | None]]:
        own = [(k, v) for k, v in pool.items() if caller.covers(v)]
        foreign = [(k, v) for k, v in pool.items() if not caller.covers(v)]
        chosen = own[:1]
        if foreign:
            chosen += data.draw(st.lists(st.sampled_from(foreign), min_size=1, max_size=3, unique=True),
                                label=f"foreign {name}")
        return chosen

    units = {t: t for t in set(world.schools.values())}
    units.update({t[:6]: t[:6] for t in units.copy()})
    units.update({t[:4]: t[:4] for t in units.copy()})
    units.update({t[:2]: t[:2] for t in units.copy()})
    if name == "school_id":
        return pick(world.schools)
    if name in ("student_id",):
        return pick(world.students)
    if name == "id_number":
        return pick(world.id_numbers)
    if name == "case_id":
        return pick(world.cases)
    if name == "report_id":
        return pick(world.reports) or [("00000000-0000-0000-0000-000000000000", None)]
    if name == "county_code":
        return pick({k: v for k, v in units.items() if len(k) == 6})
    if name == "township_code":
        return pick({k: v for k, v in units.items() if len(k) == 9})
    if name == "code":
        return pick(units)
    if name == "day":
        return [(str(TUE), None)]
    if name == "kind":
        return [(k, None) for k in LEDGER_KINDS]
    if name == "dataset":
        return [(d, None) for d in ("fact_cases", "dim_schools")]
    return [("nobody", None)]


def subject_beside(caller: Caller, where: str | None) -> bool:
    if where is None:
        return False
    return caller.beside(where) if len(where) < 9 else not caller.covers(where)


def check_reads(stack: Stack, world: World, routes, caller: Caller, data) -> list[str]:
    """Every GET operation with subjects of the caller's and of other jurisdictions (drawn), run concurrently."""
    headers = caller.headers()
    planned: list[tuple[str, str, dict, dict, bool]] = []
    for service, ops in routes.items():
        for method, path, op in ops:
            if method != "GET" or path in ("/healthz", "/readyz", "/metrics"):
                continue
            combos: list[tuple[dict[str, str], bool]] = [({}, False)]
            for name in PARAM_PATTERN.findall(path):
                combos = [({**vals, name: value}, foreign or subject_beside(caller, where))
                          for vals, foreign in combos for value, where in fillings(name, world, caller, data)]
            query_names = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
            for values, foreign in combos:
                params: dict[str, str] = {}
                if "as_of" in query_names and data.draw(st.booleans(), label="as_of"):
                    params["as_of"] = AS_OF
                for q in ("township_code", "county_code", "jurisdiction", "code", "school_id", "student_id"):
                    if q in query_names and data.draw(st.booleans(), label=f"filter {q}"):
                        value, _where = data.draw(st.sampled_from(fillings(q, world, caller, data)), label=q)
                        params[q] = value
                if "format" in query_names:
                    params["format"] = data.draw(st.sampled_from(["csv", "xlsx"]), label="format")
                planned.append((service, path, values, params, foreign))

    def run(client: httpx.Client, call: tuple[str, str, dict, dict, bool]) -> list[str]:
        service, path, values, params, foreign = call
        r = client.get(stack.url(service) + path.format(**values), params=params)
        where = f"{caller} GET {service}{path} {values} {params} -> {r.status_code}"
        if r.status_code >= 500:
            return [f"{where}: server error {r.text[:200]}"]
        if r.status_code not in OK:
            return []
        found = [f"{where}: a subject outside the jurisdiction was answered"] if foreign else []
        leaked = leaks(caller, world, text_of(r))
        return found + ([f"{where}: shows {leaked[:3]} of other jurisdictions"] if leaked else [])

    with httpx.Client(headers=headers, timeout=60) as client, ThreadPoolExecutor(6) as pool:
        return [p for found in pool.map(lambda call: run(client, call), planned) for p in found]


def check_writes(stack: Stack, world: World, caller: Caller, data) -> list[str]:
    """Writes that name a subject outside the caller's jurisdiction are refused and change nothing."""
    problems: list[str] = []
    foreign_schools = [s for s, t in world.schools.items() if not caller.covers(t)]
    foreign_students = [s for s, t in world.students.items() if not caller.covers(t)]
    foreign_ids = [i for i, t in world.id_numbers.items() if not caller.covers(t)]
    foreign_cases = [c for c, t in world.cases.items() if not caller.covers(t)]
    own_townships = sorted({t for t in world.schools.values() if caller.covers(t)})
    if not (foreign_schools and foreign_students and foreign_cases):
        return problems
    school = data.draw(st.sampled_from(foreign_schools), label="foreign school")
    student = data.draw(st.sampled_from(foreign_students), label="foreign student")
    id_number = data.draw(st.sampled_from(foreign_ids), label="foreign id number")
    case = data.draw(st.sampled_from(foreign_cases), label="foreign case")
    reg, att, cw = stack.url("registry"), stack.url("attendance"), stack.url("casework")
    here = own_townships[0] if own_townships else (caller.jurisdiction + "001")[:9]
    headers = caller.headers()
    if caller.role == "attendance_system":  # a client whose `schools` claim names the other county's school
        headers = Caller(caller.role, caller.jurisdiction, (school,)).headers()
    attempts = [
        ("POST", f"{reg}/v1/students", child_body(world.schools[school][:6], 90, school)),
        ("POST", f"{reg}/v1/students/{student}/erasure",
         {"legal_basis": "consent_withdrawn", "reference": "跨辖区〔2026〕1号", "approved_by": "someone-else"}),
        ("POST", f"{reg}/v1/population/records",
         {"source": "public_security", "id_number": id_number, "township_code": here, "name": "冒名"}),
        ("POST", f"{att}/v1/schools/{school}/days/{WED}/checkins",
         {"items": [{"student_id": student, "status": "present", "checked_at": f"{WED}T07:50:00+08:00",
                     "device": "g"}]}),
        ("POST", f"{att}/v1/schools/{school}/days/{WED}/close", None),
        ("POST", f"{att}/v1/days/{WED}/checkins",
         {"items": [{"school_id": school, "student_id": student, "status": "present",
                     "checked_at": f"{WED}T07:50:00+08:00", "device": "g"}]}),
        ("POST", f"{att}/v1/leaves/batch",
         {"items": [{"school_id": school, "student_id": student, "external_id": "x-1", "kind": "sick",
                     "first_day": str(WED), "last_day": str(WED), "reason": "跨辖区"}]}),
        ("POST", f"{att}/v1/counties/{world.schools[school][:6]}/days/{WED}/close", None),
        ("POST", f"{cw}/v1/cases", {"student_id": student, "township_code": here, "school_id": school,
                                     "note": "跨辖区报告"}),
        ("POST", f"{cw}/v1/cases/{case}/visits", {"visited_at": f"{WED}T10:00:00+08:00", "visitors": ["x"],
                                                   "findings": "跨辖区"}),
        ("POST", f"{cw}/v1/cases/{case}/persuasions", {"method": "phone", "outcome": "refused", "note": "跨辖区"}),
        ("PUT", f"{cw}/v1/cases/{case}/owners/education", {"user_id": "intruder", "reason": "跨辖区"}),
    ]
    for report, unit in world.reports.items():
        if caller.beside(unit):
            attempts.append(("POST", f"{stack.url('reporting')}/v1/reports/{report}/submit", None))
            break
    for method, url, body in attempts:
        r = httpx.request(method, url, headers=headers, json=body, timeout=30)
        if r.status_code in OK or r.status_code >= 500:
            problems.append(f"{caller} {method} {url} {str(body)[:80]} -> {r.status_code}: {r.text[:200]}")
    return problems


def callers(province: Province, world: World, data) -> list[Caller]:
    """Every role at a level it works at in the province, and more drawn at any level."""
    counties = sorted(province.counties)
    townships = [t for ts in province.counties.values() for t in ts]
    schools = [s for s, t in world.schools.items() if t.startswith(province.code)]
    level = {"province_officer": [province.code], "prefecture_officer": sorted({c[:4] for c in counties}),
             "township_officer": townships, "village_cadre": townships, "school_staff": townships,
             "head_teacher": townships, "admin": [province.code]}
    chosen = []
    for role in ROLES:
        code = data.draw(st.sampled_from(level.get(role, counties)), label=f"{role} at")
        own = tuple(s for s in schools if world.schools[s].startswith(code))[:1] or None
        chosen.append(Caller(role, code, own if role in ("school_staff", "attendance_system") else None))
    extra = data.draw(st.lists(st.tuples(st.sampled_from(ROLES), st.sampled_from(province.units)), max_size=3),
                      label="more callers")
    chosen += [Caller(role, code) for role, code in extra]
    return chosen


@settings(max_examples=2, deadline=None, phases=[Phase.generate], derandomize=False,
          suppress_health_check=list(HealthCheck))
@given(province=provinces(), data=st.data())
def test_no_token_reaches_outside_its_jurisdiction(stack, world, routes, province, data):
    if province.code not in world.provinces:  # seeding is idempotent, but a replayed example need not repeat it
        seed(stack, world, province)
    if len(world.provinces) < 2:  # the first province has no neighbour to leak into yet: seed a second one
        code = next(c for c in PROVINCE_CODES if c not in world.provinces)
        seed(stack, world, Province(code, {f"{code}0101": [f"{code}0101001"]}))
    problems: list[str] = []
    for caller in callers(province, world, data):
        problems += check_writes(stack, world, caller, data)
        problems += check_reads(stack, world, routes, caller, data)
    report = f"{len(problems)} problems:\n" + "\n".join(problems[:60])
    print(report)
    assert not problems, report
