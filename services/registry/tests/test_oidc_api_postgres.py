"""The registry API, wired by the bootstrap from settings that name an OpenID Connect provider, takes the provider's
RS256 and ES256 tokens and refuses forged ones; the actor of the token is the actor recorded on the event."""

import pytest
from fastapi.testclient import TestClient

from services.registry.entrypoints.api import create_app
from services.registry.application.registry import Registry
from services.registry.application.store import RegistryApp
from services.registry.domain.registration import id_number_check_digit
from services.registry.settings import RegistrySettings
from services.runtime.bootstrap import build_runtime
from services.runtime.eventstore import build_application
from services.runtime.tests.idp import LocalIdp, SigningKey
from services.runtime.tests.test_oidc import hand_signed

pytestmark = pytest.mark.integration
RSA_KEY, EC_KEY = SigningKey.generate("RS256"), SigningKey.generate("ES256")
SCHOOL = {"code": "OIDC-001", "name": "统一身份小学", "level": "primary", "county_code": "520102",
          "township_code": "520102001"}


@pytest.fixture(scope="module")
def idp():
    provider = LocalIdp(keys=[RSA_KEY, EC_KEY]).start()
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def client(database_url, idp):
    settings = RegistrySettings(database_url=database_url, env="test", jwt_dev_tokens=False, oidc_issuer=idp.issuer,
                                oidc_audience=idp.audience)
    runtime = build_runtime("registry", "api", settings)
    app = Registry(build_application(RegistryApp, settings, "registry"))
    with TestClient(create_app(runtime, app)) as c:
        c.registry = app
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("key", [RSA_KEY, EC_KEY], ids=["RS256", "ES256"])
def test_the_providers_tokens_open_the_registry_api(client, idp, key):
    r = client.post("/v1/schools", json=SCHOOL, headers=bearer(idp.token(key, sub=f"officer-{key.alg}")))
    assert r.status_code in (200, 201), r.text
    school = client.get(f"/v1/schools/{r.json()['school_id']}", headers=bearer(idp.token(key)))
    assert school.status_code == 200, school.text
    other_county = client.get(f"/v1/schools/{r.json()['school_id']}", headers=bearer(idp.token(key, jur="520103")))
    assert other_county.status_code == 403  # the provider's jurisdiction claim scopes the reads


def test_the_actor_recorded_on_the_event_is_the_providers_subject(client, idp):
    token = bearer(idp.token(RSA_KEY, sub="zhang.kz"))
    school_id = client.post("/v1/schools", json=SCHOOL, headers=token).json()["school_id"]
    body = "52010220160430077"  # a child no other registry test enrols (the database is shared)
    r = client.post("/v1/students", headers=token, json={
        "id_number": body + id_number_check_digit(body), "name": "赵六", "birth_date": "2016-04-30", "grade": 4,
        "class_name": "4-1", "school_id": school_id})
    assert r.status_code == 201, r.text
    history = client.get(f"/v1/children/{r.json()['student_id']}/history", headers=token)
    assert history.status_code == 200, history.text
    assert {h["actor_id"] for h in history.json()} == {"zhang.kz"}


@pytest.mark.parametrize("forged", ["hs256-public-key", "alg-none", "wrong-audience", "dev-token"])
def test_forged_tokens_write_nothing(client, idp, forged):
    from services.runtime.testing import token as dev_token

    claims = idp.claims()
    token = {
        "hs256-public-key": hand_signed({"alg": "HS256", "kid": RSA_KEY.kid}, claims, RSA_KEY.public_pem()),
        "alg-none": hand_signed({"alg": "none", "kid": RSA_KEY.kid}, claims, None),
        "wrong-audience": idp.token(RSA_KEY, aud="other"),
        "dev-token": dev_token("admin", "52"),  # development tokens are switched off in these settings
    }[forged]
    before = client.registry.store.recorder.max_notification_id() or 0
    r = client.post("/v1/schools", json={**SCHOOL, "code": f"OIDC-F-{forged}"}, headers=bearer(token))
    assert r.status_code == 401, r.text
    assert (client.registry.store.recorder.max_notification_id() or 0) == before
