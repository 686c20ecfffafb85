"""Bad input is refused at the edge, before any handler runs, with a 422 naming where: non-finite numbers, lone
surrogates, control characters, deep nesting, invalid UTF-8, control characters in the path and the query; and the
shared field types refuse the same for every request schema."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from services.runtime.access import Public, RoleMatrix
from services.runtime.auth import TokenCodec
from services.runtime.clock import SystemClock
from services.runtime.jsoninput import parse_json
from services.runtime.metrics import Metrics
from services.runtime.settings import DEV_JWT_SECRET
from services.runtime.validation import BadInput, FiniteFloat, SafeId, SafeLine, SafeText
from services.runtime.web import create_base_app


class Log:
    def info(self, event: str, **fields: Any) -> None:
        pass


class Thing(BaseModel):
    name: str
    amount: float | None = None
    tags: list[str] = []
    extra: dict[str, Any] = {}


@pytest.fixture
def client():
    app = create_base_app(service="bad-input-test", title="t", description="d", metrics=Metrics("bad-input-test"),
                          logger=Log(), token_codec=TokenCodec(DEV_JWT_SECRET), clock=SystemClock(), readiness={},
                          error_statuses={}, role_matrix=RoleMatrix({
                              "POST /v1/things": Public("the edge is tested, not the route"),
                              "GET /v1/things/{thing_id}": Public("the edge is tested, not the route"),
                              "POST /v1/raw": Public("the edge is tested, not the route")}))
    seen: list[Any] = []

    @app.post("/v1/things")
    def create(body: Thing) -> dict[str, Any]:
        seen.append(body)
        return {"ok": True}

    @app.get("/v1/things/{thing_id}")
    def read(thing_id: str, q: str | None = None) -> dict[str, Any]:
        seen.append(thing_id)
        return {"thing": thing_id}

    @app.post("/v1/raw")
    async def raw(request: Any = None) -> dict[str, Any]:  # noqa: ARG001 - a route reading nothing
        return {"ok": True}

    test_client = TestClient(app, raise_server_exceptions=False)
    test_client.seen = seen  # type: ignore[attr-defined]
    return test_client


def post(client: TestClient, body: bytes) -> Any:
    return client.post("/v1/things", content=body, headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (b'{"name": "a", "amount": NaN}', ["body", "amount"]),
        (b'{"name": "a", "amount": Infinity}', ["body", "amount"]),
        (b'{"name": "a", "amount": -Infinity}', ["body", "amount"]),
        (b'{"name": "a", "amount": 1e400}', ["body", "amount"]),
        (b'{"name": "\\ud800"}', ["body", "name"]),
        (b'{"name": "a", "tags": ["ok", "x\\udfffy"]}', ["body", "tags", 1]),
        (b'{"name": "a\\u0000b"}', ["body", "name"]),
        (b'{"name": "a", "extra": {"k": "\\u001b[31m"}}', ["body", "extra", "k"]),
        (b'{"name": "a", "extra": {"k\\u0000": 1}}', ["body", "extra", "k\\x00"]),
        (b'{"name": "a", "extra": {"deep": ' + b"[" * 40 + b"]" * 40 + b"}}", None),
        (b"[" * 100_000, ["body"]),
        (b'{"name": "\xff\xfe"}', ["body"]),
    ],
)
def test_a_bad_json_body_is_refused_with_a_422_naming_the_field_before_the_handler(client, body, loc):
    r = post(client, body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    if loc is not None:
        assert detail[0]["loc"] == loc
    else:
        assert detail[0]["loc"][:3] == ["body", "extra", "deep"] and detail[0]["type"] == "json_too_deep"
    assert client.seen == []  # type: ignore[attr-defined]


def test_good_bodies_pass_with_newlines_tabs_escaped_pairs_and_backslashes(client):
    r = post(client, b'{"name": "\\u5f20\\u4e09 \\ud83d\\ude00", "tags": ["a\\\\u0000b", "line\\nnext\\tcol"], "amount": 1.5}')
    assert r.status_code == 200, r.text
    assert client.seen[0].tags == ["a\\u0000b", "line\nnext\tcol"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("url", "loc"), [("/v1/things/a%00b", ["path"]), ("/v1/things/a%1Fb", ["path"]),
                                          ("/v1/things/a?q=x%00", ["query", "q"])])
def test_control_characters_in_the_path_or_query_are_refused(client, url, loc):
    r = client.get(url)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == loc
    assert client.get("/v1/things/a%20b?q=%E5%BC%A0").json() == {"thing": "a b"}


def test_a_body_that_is_not_json_is_not_looked_at_by_the_edge(client):
    assert client.post("/v1/raw", content=b"a,b\n1,NaN\n", headers={"content-type": "text/csv"}).status_code == 200


def test_the_shared_field_types_refuse_controls_surrogates_and_non_finite_numbers():
    class Body(BaseModel):
        text: SafeText = ""
        line: SafeLine = ""
        ident: SafeId = "x"
        amount: FiniteFloat = 0.0

    assert Body(text="a\nb\tc", line="张三", ident="gov-001;x", amount=1e300).text == "a\nb\tc"
    for field, value in [("text", "a\x00"), ("text", "a\x1b"), ("line", "a\nb"), ("ident", "a\x00"),
                         ("ident", "\ud800"), ("amount", float("inf")), ("amount", float("nan")), ("amount", "1e400")]:
        with pytest.raises(ValidationError) as caught:
            Body(**{field: value})
        assert caught.value.errors()[0]["loc"] == (field,)


def test_parse_json_refuses_depth_beyond_the_bound_and_costs_little_on_a_large_flat_body():
    with pytest.raises(BadInput) as caught:
        parse_json(b"[" * 33 + b"]" * 33)
    assert caught.value.kind == "json_too_deep"
    assert parse_json(b"[" * 32 + b"]" * 32) is not None
    rows = b",".join(b'{"school_id":"s-%d","student_id":"st-%d","status":"present"}' % (i % 40, i) for i in range(10_000))
    assert len(parse_json(b'{"items":[' + rows + b"]}")["items"]) == 10_000
