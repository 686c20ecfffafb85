"""The role matrix: an app whose routes and matrix disagree is never served, and the authentication dependency
refuses every role a route's row does not name (the one place roles are checked)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from services.runtime.access import Allow, At, ByParam, Public, RoleMatrix, RoleMatrixMismatch
from services.runtime.auth import CurrentActor, TokenCodec
from services.runtime.clock import SystemClock
from services.runtime.metrics import Metrics
from services.runtime.settings import DEV_JWT_SECRET
from services.runtime.testing import auth
from services.runtime.web import create_base_app, seal


class Log:
    def info(self, event: str, **fields: Any) -> None:
        pass


def shell(rows: dict[str, Any] | None) -> Any:
    app = create_base_app(service="access-test", title="t", description="d", metrics=Metrics("access-test"),
                          logger=Log(), token_codec=TokenCodec(DEV_JWT_SECRET), clock=SystemClock(), readiness={},
                          error_statuses={}, role_matrix=None if rows is None else RoleMatrix(rows))
    router = APIRouter(prefix="/things")

    @router.get("/{thing_id}")
    def thing(thing_id: str, actor: CurrentActor) -> dict[str, str]:
        return {"thing": thing_id, "role": actor.role}

    @router.post("/{kind}/import")
    def imports(kind: str, actor: CurrentActor) -> dict[str, str]:
        return {"kind": kind}

    @app.get("/page")
    def page() -> dict[str, str]:
        return {"page": "static"}

    app.include_router(router, prefix="/v1")
    return app


ROWS: dict[str, Any] = {
    "GET /v1/things/{thing_id}": Allow("county_officer", At("province_officer", 2)),
    "POST /v1/things/{kind}/import": ByParam("kind", {"students": Allow("school_staff"),
                                                       "population": Allow("county_officer", admin=False)}),
    "GET /page": Public("static"),
}


def test_a_route_that_authenticates_without_a_row_refuses_to_build_and_to_serve():
    rows = {k: v for k, v in ROWS.items() if k != "GET /v1/things/{thing_id}"}
    with pytest.raises(RoleMatrixMismatch) as refused:
        seal(shell(rows))
    assert refused.value.problems == ["GET /v1/things/{thing_id}: no row in the role matrix (it authenticates)"]
    with pytest.raises(RoleMatrixMismatch):  # an app nobody sealed still never serves a request
        TestClient(shell(rows)).get("/healthz")


def test_without_a_matrix_no_route_but_the_ops_routes_may_exist():
    with pytest.raises(RoleMatrixMismatch) as refused:
        seal(shell(None))
    assert len(refused.value.problems) == 3


@pytest.mark.parametrize("row, problem", [
    ({"GET /v1/gone": Allow("auditor")}, "GET /v1/gone: row names a route that does not exist"),
    ({"GET /page": Allow("auditor")}, "GET /page: row names roles but the route does not authenticate, so nothing "
                                      "would enforce it"),
    ({"GET /v1/things/{thing_id}": Public("no")}, "GET /v1/things/{thing_id}: row says public but the route "
                                                   "authenticates"),
    ({"GET /v1/things/{thing_id}": ByParam("kind", {"x": Allow("auditor")})},
     "GET /v1/things/{thing_id}: row varies by 'kind', not a parameter of the path"),
])
def test_rows_that_do_not_fit_their_routes_refuse_to_build(row, problem):
    with pytest.raises(RoleMatrixMismatch) as refused:
        seal(shell({**ROWS, **row}))
    assert problem in refused.value.problems


@pytest.mark.parametrize("rows", [
    {"GET /v1/x": Allow("dean")}, {"GET /v1/x": Allow("admin")}, {"FETCH /v1/x": Allow("auditor")},
    {"GET /v1/x": Allow(At("auditor", 5))},
])
def test_a_matrix_naming_an_unknown_role_method_or_level_is_refused(rows):
    with pytest.raises(RoleMatrixMismatch):
        RoleMatrix(rows)


def test_roles_outside_the_row_get_forbidden_role_and_the_wrong_level_forbidden_level():
    client = TestClient(seal(shell(ROWS)))
    assert client.get("/v1/things/a", headers=auth("county_officer", "520102")).json()["role"] == "county_officer"
    refused = client.get("/v1/things/a", headers=auth("village_cadre", "520102001001"))
    assert refused.status_code == 403
    assert refused.json()["detail"] == {"code": "forbidden_role", "message": "角色 village_cadre 无权执行此操作 "
                                        "(role not allowed)", "allowed": ["admin", "province_officer",
                                                                          "county_officer"]}
    assert client.get("/v1/things/a", headers=auth("province_officer", "52")).status_code == 200
    wrong_level = client.get("/v1/things/a", headers=auth("province_officer", "5201"))
    assert wrong_level.status_code == 403 and wrong_level.json()["detail"]["code"] == "forbidden_level"
    assert client.get("/v1/things/a", headers=auth("admin", "52")).status_code == 200
    assert client.get("/v1/things/a").status_code == 401
    assert client.get("/page").json() == {"page": "static"}


def test_a_row_by_path_parameter_decides_per_value_and_admin_only_where_the_row_lets_it():
    client = TestClient(seal(shell(ROWS)))
    assert client.post("/v1/things/students/import", headers=auth("school_staff", "520102001")).status_code == 200
    assert client.post("/v1/things/population/import", headers=auth("school_staff", "520102001")).status_code == 403
    assert client.post("/v1/things/population/import", headers=auth("county_officer", "520102")).status_code == 200
    assert client.post("/v1/things/students/import", headers=auth("admin", "52")).status_code == 200
    refused = client.post("/v1/things/population/import", headers=auth("admin", "52"))
    assert refused.status_code == 403 and refused.json()["detail"]["code"] == "forbidden_role"
