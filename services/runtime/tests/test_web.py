"""The HTTP shell every API shares: correlation ids in and out, the access log with route and actor, metrics per
route and status, also for unknown routes and for requests that fail."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.runtime.access import Allow, Public, RoleMatrix
from services.runtime.auth import CurrentActor, TokenCodec
from services.runtime.clock import SystemClock
from services.runtime.metrics import Metrics
from services.runtime.settings import DEV_JWT_SECRET
from services.runtime.testing import token
from services.runtime.web import CommandMeta, create_base_app


class Log:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append({"event": event, **fields})

    def error(self, event: str, **fields: Any) -> None:
        self.errors.append({"event": event, **fields})


@pytest.fixture
def shell():
    metrics, log = Metrics("web-test"), Log()
    app = create_base_app(service="web-test", title="t", description="d", metrics=metrics, logger=log,
                          token_codec=TokenCodec(DEV_JWT_SECRET), clock=SystemClock(), readiness={},
                          error_statuses={}, role_matrix=RoleMatrix({
                              "GET /v1/things/{thing_id}": Allow("county_officer"),
                              "GET /v1/broken": Public("fails on purpose"),
                              "POST /v1/children": Public("fails on purpose, with the request in its message")}))

    @app.get("/v1/things/{thing_id}")
    def thing(thing_id: str, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        return {"thing": thing_id, "correlation_id": meta["correlation_id"]}

    @app.get("/v1/broken")
    def broken() -> None:
        raise RuntimeError("boom")

    @app.post("/v1/children")
    def enrol(body: dict[str, Any]) -> None:
        try:
            int(body["grade"])
        except ValueError as exc:  # a message that repeats the request, as validation errors do
            raise KeyError(f"bad child {body}") from exc

    return TestClient(app, raise_server_exceptions=False), metrics, log


def bearer(role: str, **extra: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, '520102', **extra)}"}


def count(metrics: Metrics, route: str, status: str, method: str = "GET") -> float:
    return metrics.http_requests.labels("web-test", method, route, status)._value.get()


def test_a_given_correlation_id_is_used_and_returned_and_the_request_is_logged_with_its_actor(shell):
    client, metrics, log = shell
    headers = {"X-Correlation-ID": "cid-1", **bearer("county_officer", user_id="officer-7")}
    r = client.get("/v1/things/a", headers=headers)
    assert r.status_code == 200 and r.headers["x-correlation-id"] == "cid-1"
    assert r.json() == {"thing": "a", "correlation_id": "cid-1"}  # the events a command causes carry it
    line = log.lines[-1]
    assert (line["route"], line["status"], line["actor_id"], line["actor_role"]) == (
        "/v1/things/{thing_id}", 200, "officer-7", "county_officer")
    assert count(metrics, "/v1/things/{thing_id}", "200") == 1


def test_without_a_correlation_id_one_is_minted_per_request(shell):
    client, _metrics, _log = shell
    headers = bearer("county_officer")
    first, second = (client.get("/v1/things/b", headers=headers) for _ in range(2))
    ids = {first.headers["x-correlation-id"], second.headers["x-correlation-id"]}
    assert len(ids) == 2 and first.json()["correlation_id"] in ids


def test_refused_unknown_and_failing_requests_are_counted_under_their_status(shell):
    client, metrics, log = shell
    assert client.get("/v1/things/c").status_code == 401
    assert client.get("/v1/nowhere").status_code == 404
    r = client.get("/v1/broken")
    assert r.status_code == 500
    assert count(metrics, "/v1/things/{thing_id}", "401") == 1
    assert count(metrics, "unmatched", "404") == 1
    assert count(metrics, "/v1/broken", "500") == 1
    assert [line["status"] for line in log.lines] == [401, 404, 500]


def test_an_unhandled_error_is_logged_without_its_message_and_answers_500_itself(shell):
    client, metrics, log = shell
    child = {"name": "欧阳晓彤", "id_number": "520102201507234182", "guardian_phone": "13987654321", "grade": "五"}
    r = client.post("/v1/children", json=child, headers={"X-Correlation-ID": "cid-err"})
    assert r.status_code == 500 and r.json()["detail"]["code"] == "internal_error"
    assert r.headers["x-correlation-id"] == "cid-err"
    [error] = log.errors
    assert error["event"] == "unhandled_error" and error["route"] == "/v1/children"
    assert error["error_types"] == ["KeyError", "ValueError"]
    assert any("test_web.py" in f and "enrol" in f for f in error["frames"])
    logged = str(log.errors) + str(log.lines)
    assert "欧阳晓彤" not in logged and "520102201507234182" not in logged and "13987654321" not in logged
    assert count(metrics, "/v1/children", "500", "POST") == 1


def test_the_server_never_sees_an_unhandled_error_to_print_it():
    """TestClient re-raises what reaches the server (as uvicorn prints it, message and all); now nothing does."""
    app = create_base_app(service="web-test", title="t", description="d", metrics=Metrics("web-test-2"), logger=Log(),
                          token_codec=TokenCodec(DEV_JWT_SECRET), clock=SystemClock(), readiness={},
                          error_statuses={}, role_matrix=RoleMatrix({"GET /v1/leaky": Public("fails on purpose")}))

    @app.get("/v1/leaky")
    def leaky() -> None:
        raise ValueError("欧阳晓彤 520102201507234182")

    assert TestClient(app).get("/v1/leaky").status_code == 500
