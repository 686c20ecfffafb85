"""Every role against every route of every service's real app: a role outside the route's row of the role matrix
gets 403 forbidden_role (or forbidden_level), a role inside it never does; and the README tables are the matrix."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.runtime.access import OPS_PATHS, ByParam, Public, flat_routes
from devstack.catalog import SERVICES, service_matrix
from services.runtime.access_doc import markdown, readme_block
from services.runtime.auth import ROLES
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SCHOOL = str(uuid.uuid4())

# Each role's natural jurisdiction (GB/T 2260 code of its administrative level).
HOME = {
    "admin": "52", "province_officer": "52", "prefecture_officer": "5201", "county_officer": "520102",
    "township_officer": "520102001", "village_cadre": "520102001001", "school_staff": "520102001",
    "head_teacher": "520102001", "justice_officer": "520102001", "auditor": "52", "attendance_system": "520102",
    "system": "52",
}
CODE_OF_LEVEL = {2: "52", 4: "5201", 6: "520102", 9: "520102001", 12: "520102001001"}
# Syntactically valid dummy values for every path parameter the services declare.
SAMPLE = {
    "day": "2025-09-22", "county_code": "520102", "township_code": "520102001", "code": "520102",
    "id_number": "52010220150301123X", "kind": "cases", "page": "dashboard", "name": "app.js",
    "dataset": "fact_cases", "slot": "head_teacher", "role": "county_officer", "user_id": "owner-1",
    "report_id": "month-2025-09", "school_id": SCHOOL,
}


def build(service: str, database_url: str, data_dir: Path) -> tuple[Any, Any]:
    """The service's API exactly as its process builds it (bootstrap.api), on the test database."""
    import importlib

    bootstrap = importlib.import_module(f"services.{service}.bootstrap")
    cls = getattr(importlib.import_module(f"services.{service}.settings"), f"{service.capitalize()}Settings")
    extra: dict[str, Any] = {"data_dir": data_dir}
    if service == "attendance":
        extra.update(ingest_rate_per_s=100_000, ingest_burst=100_000)
    return bootstrap.api(cls(database_url=database_url, env="test", db_pool_size=2, **extra))


def filled(path: str, values: dict[str, str]) -> str:
    import re

    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        return values.get(name) or SAMPLE.get(name) or str(uuid.uuid4())

    return re.sub(r"\{([^}]+)\}", value, path)


def headers_for(role: str, levels: tuple[int, ...] | None) -> dict[str, str]:
    code = CODE_OF_LEVEL[levels[0]] if levels else HOME[role]
    extra = {"schools": [SCHOOL]} if role == "attendance_system" else {}
    return auth(role, code, user_id=f"matrix-{role}", **extra)


def cases(matrix: Any, method: str, path: str) -> list[tuple[dict[str, str], Any]]:
    """(path values, the Allow row that applies) for a route: one per value a ByParam row lists."""
    row = matrix.row(method, path)
    if isinstance(row, ByParam):
        return [({row.param: value}, allow) for value, allow in row.rows.items()]
    return [({}, row)]


def call(client: TestClient, method: str, url: str, headers: dict[str, str]) -> Any:
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return client.request(method, url, headers=headers, json=body)


def refusal_code(response: Any) -> str | None:
    if response.status_code != 403:
        return None
    detail = response.json().get("detail")
    return detail.get("code") if isinstance(detail, dict) else None


@pytest.fixture(scope="module")
def clients(database_url, tmp_path_factory):
    opened = {}
    try:
        for service in SERVICES:
            app, runtime = build(service, database_url, tmp_path_factory.mktemp(f"var-{service}"))
            client = TestClient(app, raise_server_exceptions=False)
            client.__enter__()
            opened[service] = (client, runtime)
        yield {s: c for s, (c, _r) in opened.items()}
    finally:
        for client, runtime in opened.values():
            client.__exit__(None, None, None)
            runtime.close()


@pytest.mark.parametrize("service", SERVICES)
def test_every_role_against_every_route(service, clients):
    client = clients[service]
    matrix = client.app.state.role_matrix
    wrong: list[str] = []
    errors: list[str] = []  # not this test's business, but worth seeing: printed
    routes = 0
    for route, path in flat_routes(client.app):
        if path in OPS_PATHS:
            continue
        for method in sorted(set(route.methods) - {"HEAD"}):
            row = matrix.row(method, path)
            assert row is not None, f"{method} {path} has no row (the app should not have been built)"
            routes += 1
            if isinstance(row, Public):
                r = client.request(method, filled(path, {}))
                assert r.status_code != 401 and refusal_code(r) is None, f"{method} {path}: public, got {r.status_code}"
                continue
            anonymous = call(client, method, filled(path, {}), {})
            if anonymous.status_code != 401:
                wrong.append(f"{method} {path} without a token: {anonymous.status_code}, not 401")
            for values, allow in cases(matrix, method, path):
                url = filled(path, values)
                for role in ROLES:
                    allowed = role in allow.grants or (role == "admin" and allow.admin)
                    levels = allow.grants.get(role)
                    r = call(client, method, url, headers_for(role, levels))
                    code = refusal_code(r)
                    if r.status_code >= 500:
                        errors.append(f"{method} {url} as {role}: {r.status_code}")
                    if allowed and code in ("forbidden_role", "forbidden_level"):
                        wrong.append(f"{method} {url} as {role}: refused ({code}) though its row allows it")
                    if not allowed and code != "forbidden_role":
                        wrong.append(f"{method} {url} as {role}: {r.status_code} {code}, not forbidden_role")
                    if allowed and levels:
                        other = next(n for n in CODE_OF_LEVEL if n not in levels)
                        r = call(client, method, url, headers_for(role, (other,)))
                        if refusal_code(r) != "forbidden_level":
                            wrong.append(f"{method} {url} as {role} at level {other}: {r.status_code}, "
                                         "not forbidden_level")
    print("\n".join(errors))
    assert routes == len(list(matrix.items())), "every row was tried"
    assert not wrong, "\n".join(wrong)


@pytest.fixture(scope="module")
def child(clients) -> str:
    """A child enrolled at a school of county 520102: its student id."""
    client, officer = clients["registry"], auth("county_officer", "520102")
    school = client.post("/v1/schools", headers=officer, json={
        "code": "MATRIX-1", "name": "矩阵小学", "level": "primary", "county_code": "520102",
        "township_code": "520102001"}).json()["school_id"]
    r = client.post("/v1/students", headers=officer, json={
        "id_number": SAMPLE["id_number"], "name": "张三丰", "birth_date": "2015-03-01", "school_id": school,
        "grade": 5, "class_name": "5-1"})
    assert r.status_code in (200, 201), r.text
    return r.json()["student_id"]


@pytest.mark.parametrize("role", ["village_cadre", "attendance_system", "justice_officer"])
def test_a_childs_registry_history_is_not_for_cadres_gates_or_justice_officers(role, clients, child):
    client = clients["registry"]
    assert client.get(f"/v1/children/{child}/history", headers=auth("county_officer", "520102")).status_code == 200
    headers = auth(role, "520102", schools=[SCHOOL]) if role == "attendance_system" else auth(role, "520102")
    for url in (f"/v1/children/{child}/history", f"/v1/children/by-id-number/{SAMPLE['id_number']}/provenance",
                f"/v1/students/{child}"):
        r = client.get(url, headers=headers)
        assert r.status_code == 403 and r.json()["detail"]["code"] == "forbidden_role", (url, r.status_code)


def test_level_bound_rows_refuse_the_right_role_at_the_wrong_level(clients):
    client = clients["casework"]
    url = f"/v1/cases/{uuid.uuid4()}/closure/decision"
    r = client.post(url, json={}, headers=auth("county_officer", "5201"))
    assert r.status_code == 403 and r.json()["detail"]["code"] == "forbidden_level"
    assert client.post(url, json={}, headers=auth("county_officer", "520102")).status_code == 422


@pytest.mark.parametrize("service", SERVICES)
def test_the_readme_table_is_the_matrix(service):
    text = (ROOT / "services" / service / "README.md").read_text(encoding="utf-8")
    assert "## Who may do what (role matrix)" in text
    assert readme_block(text) == markdown(service_matrix(service), service), (
        f"services/{service}/README.md differs from services/{service}/roles.py: run `baoxue roles --write`")

