"""Tokens of an OpenID Connect provider, verified by its JWKS over real HTTP through an API's auth dependency:
good RS256/ES256 tokens pass; forged, confused, expired, foreign or unknown-key tokens get 401; keys rotate;
a flood of unknown kids does not hammer the provider; a provider that does not answer gives a clear 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from services.runtime.access import Allow, RoleMatrix
from services.runtime.auth import ROLES, Actor, CurrentActor
from services.runtime.clock import SystemClock
from services.runtime.infra import free_port
from services.runtime.metrics import Metrics
from services.runtime.oidc import OidcVerifier, ProviderUnavailable, token_verifier
from services.runtime.settings import ServiceSettings
from services.runtime.testing import token as dev_token
from services.runtime.tests.idp import LocalIdp, SigningKey
from services.runtime.web import create_base_app

RSA_KEY, EC_KEY = SigningKey.generate("RS256"), SigningKey.generate("ES256")
IMPOSTOR = SigningKey.generate("RS256", kid=RSA_KEY.kid)  # the provider's kid, another key
STRANGER = SigningKey.generate("ES256")  # a key the provider never published


class Log:
    def info(self, *_a: Any, **_k: Any) -> None:
        pass

    error = info


@pytest.fixture
def idp():
    provider = LocalIdp(keys=[RSA_KEY, EC_KEY]).start()
    yield provider
    provider.stop()


def settings_for(idp: LocalIdp, **overrides: Any) -> ServiceSettings:
    return ServiceSettings(**{"env": "test", "oidc_issuer": idp.issuer, "oidc_audience": idp.audience,
                              "oidc_jwks_cooldown_s": 30, **overrides})


def api(settings: ServiceSettings) -> TestClient:
    """A platform API built the way every service's is: create_base_app with the verifier the settings describe."""
    app = create_base_app(service="oidc-test", title="t", description="d", metrics=Metrics("oidc-test"), logger=Log(),
                          token_codec=token_verifier(settings), clock=SystemClock(), readiness={}, error_statuses={},
                          role_matrix=RoleMatrix({"GET /v1/whoami": Allow(*(r for r in ROLES if r != "admin"))}))

    @app.get("/v1/whoami")
    def whoami(actor: CurrentActor) -> dict[str, Any]:
        return actor.model_dump()

    client = TestClient(app)
    client.verifier = app.state.token_codec
    return client


def whoami(client: TestClient, token: str):
    return client.get("/v1/whoami", headers={"Authorization": f"Bearer {token}"})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A JWT put together by hand, as an attacker would (PyJWT refuses to HMAC-sign with a public key)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = b"" if secret is None else hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


@pytest.mark.parametrize("key", [RSA_KEY, EC_KEY], ids=["RS256", "ES256"])
def test_a_provider_token_is_accepted_and_names_the_actor(idp, key):
    client = api(settings_for(idp))  # no JWKS address: found by discovery
    r = whoami(client, idp.token(key, schools=["s-1"], name="李科长"))
    assert r.status_code == 200, r.text
    assert r.json() == {"user_id": "officer-oidc-1", "role": "county_officer", "jurisdiction": "520102",
                        "name": "李科长", "schools": ["s-1"]}
    assert idp.discovery_hits == 1 and idp.hits == 1
    assert whoami(client, idp.token(key)).status_code == 200
    assert idp.hits == 1  # keys are cached


def test_a_clock_skew_within_the_leeway_is_tolerated(idp):
    client = api(settings_for(idp, oidc_leeway_s=30))
    now = int(time.time())
    assert whoami(client, idp.token(RSA_KEY, exp=now - 10)).status_code == 200
    assert whoami(client, idp.token(RSA_KEY, iat=now + 10, nbf=now + 10)).status_code == 200


def _forgeries(idp: LocalIdp) -> dict[str, str]:
    now = int(time.time())
    claims = idp.claims()
    good = idp.token(RSA_KEY)
    head, payload, signature = good.split(".")
    tampered = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered["jur"] = "52"  # widen the jurisdiction to the whole province
    return {
        "wrong issuer": idp.token(RSA_KEY, iss="https://evil.example"),
        "wrong audience": idp.token(RSA_KEY, aud="another-app"),
        "no audience": idp.token(RSA_KEY, aud=None),
        "expired": idp.token(RSA_KEY, exp=now - 120),
        "no expiry": idp.token(RSA_KEY, exp=None),
        "not yet valid": idp.token(RSA_KEY, nbf=now + 300),
        "issued in the future": idp.token(RSA_KEY, iat=now + 300),
        "unknown kid": idp.token(STRANGER),
        "no kid": jwt.encode(claims, RSA_KEY.private, algorithm="RS256"),
        "signed by another key": idp.token(IMPOSTOR),
        "alg none": hand_signed({"alg": "none", "typ": "JWT", "kid": RSA_KEY.kid}, claims, None),
        "HS256 with the RSA public key": hand_signed({"alg": "HS256", "typ": "JWT", "kid": RSA_KEY.kid}, claims,
                                                     RSA_KEY.public_pem()),
        "HS256 with the EC public key": hand_signed({"alg": "HS256", "typ": "JWT", "kid": EC_KEY.kid}, claims,
                                                    EC_KEY.public_pem()),
        "ES256 header on the RSA key": jwt.encode(claims, EC_KEY.private, algorithm="ES256",
                                                 headers={"kid": RSA_KEY.kid}),
        "tampered payload": f"{head}.{b64(json.dumps(tampered).encode())}.{signature}",
        "unknown role": idp.token(RSA_KEY, role="emperor"),
        "no subject": idp.token(RSA_KEY, sub=None),
        "bad jurisdiction": idp.token(RSA_KEY, jur="guizhou"),
    }


FORGERIES = [
    "wrong issuer", "wrong audience", "no audience", "expired", "no expiry", "not yet valid", "issued in the future",
    "unknown kid", "no kid", "signed by another key", "alg none", "HS256 with the RSA public key",
    "HS256 with the EC public key", "ES256 header on the RSA key", "tampered payload", "unknown role", "no subject",
    "bad jurisdiction",
]


@pytest.mark.parametrize("dev_tokens", [True, False], ids=["with-dev-tokens", "provider-only"])
@pytest.mark.parametrize("case", FORGERIES)
def test_forged_foreign_or_stale_tokens_get_401(idp, case, dev_tokens):
    client = api(settings_for(idp, oidc_jwks_url=idp.jwks_url, jwt_dev_tokens=dev_tokens))
    assert whoami(client, idp.token(RSA_KEY)).status_code == 200  # the provider and its keys are fine
    r = whoami(client, _forgeries(idp)[case])
    assert r.status_code == 401, r.text
    assert r.json()["detail"]["code"] == "invalid_token"
    assert r.headers["www-authenticate"] == "Bearer"


def test_keys_rotate_a_new_kid_is_fetched_and_a_removed_key_stops_working(idp):
    client = api(settings_for(idp, oidc_jwks_url=idp.jwks_url, oidc_jwks_ttl_s=0.6, oidc_jwks_cooldown_s=0.2))
    old_token = idp.token(RSA_KEY)
    assert whoami(client, old_token).status_code == 200
    new_key = SigningKey.generate("RS256")
    idp.keys = [RSA_KEY, new_key]  # the provider publishes its next key
    time.sleep(0.25)
    assert whoami(client, idp.token(new_key)).status_code == 200, "the unknown kid was not refetched"
    assert idp.hits == 2
    idp.keys = [new_key]  # ... and withdraws the old one
    time.sleep(0.7)  # the cached key set expires
    r = whoami(client, old_token)
    assert r.status_code == 401 and "unknown key id" in r.json()["detail"]["message"]
    assert whoami(client, idp.token(new_key)).status_code == 200


def test_a_flood_of_random_kids_does_not_hammer_the_provider(idp):
    client = api(settings_for(idp, oidc_jwks_url=idp.jwks_url, oidc_jwks_cooldown_s=30))
    assert whoami(client, idp.token(EC_KEY)).status_code == 200
    for _ in range(50):
        token = idp.token(EC_KEY, headers={"kid": uuid.uuid4().hex})
        assert whoami(client, token).status_code == 401
    assert idp.hits == 1  # within the cooldown no unknown kid causes a fetch
    assert whoami(client, idp.token(EC_KEY)).status_code == 200


def test_an_unreachable_provider_gives_a_clear_401_and_is_not_asked_again_at_once(idp):
    dead = f"http://127.0.0.1:{free_port()}"
    for settings in (ServiceSettings(env="test", oidc_issuer=dead, oidc_audience="baoxue-test"),  # discovery
                     ServiceSettings(env="test", oidc_issuer=idp.issuer, oidc_audience=idp.audience,
                                     oidc_jwks_url=dead + "/jwks")):
        client = api(settings)
        r = whoami(client, idp.token(RSA_KEY))
        assert r.status_code == 401, r.text
        assert "不可达" in r.json()["detail"]["message"] and "unreachable" in r.json()["detail"]["message"]
    client = api(settings_for(idp, oidc_jwks_url=idp.jwks_url + "-down", oidc_retry_s=30))  # the provider says 404
    for _ in range(20):
        assert whoami(client, idp.token(RSA_KEY)).status_code == 401
    assert client.verifier.oidc.fetches == 1


def test_a_discovery_document_naming_another_issuer_is_not_trusted(idp):
    idp.discovery_issuer = "https://evil.example"  # e.g. a misrouted or spoofed discovery endpoint
    client = api(settings_for(idp, oidc_retry_s=30))
    r = whoami(client, idp.token(RSA_KEY))
    assert r.status_code == 401 and "unreachable" in r.json()["detail"]["message"]
    assert idp.hits == 0  # no key was fetched from the address it named
    assert whoami(client, idp.token(RSA_KEY)).status_code == 401
    assert idp.discovery_hits == 1  # and discovery is not retried at once


def test_with_https_required_a_discovered_plain_http_jwks_address_is_refused(idp):
    verifier = OidcVerifier(idp.issuer, idp.audience, require_https=True)  # as production builds it
    with pytest.raises(ProviderUnavailable):
        verifier.verify(idp.token(RSA_KEY))
    assert idp.discovery_hits == 1 and idp.hits == 0
    assert OidcVerifier(idp.issuer, idp.audience).verify(idp.token(RSA_KEY)).user_id == "officer-oidc-1"


def test_a_providers_own_claim_names_and_role_values_are_mapped(idp):
    client = api(settings_for(idp, oidc_user_claim="preferred_username", oidc_role_claim="realm_access.roles",
                              oidc_jurisdiction_claim="division_code", oidc_schools_claim="baoxue.schools",
                              oidc_role_map={"edu-county-officer": "county_officer"}))
    token = idp.token(RSA_KEY, preferred_username="zhang.kz", realm_access={"roles": ["offline", "edu-county-officer"]},
                      division_code="520103", baoxue={"schools": "s-9"}, role=None, jur=None)
    r = whoami(client, token)
    assert r.status_code == 200, r.text
    assert r.json() == {"user_id": "zhang.kz", "role": "county_officer", "jurisdiction": "520103", "name": None,
                        "schools": ["s-9"]}
    no_role = idp.token(RSA_KEY, preferred_username="x", realm_access={"roles": ["offline"]}, division_code="52")
    assert whoami(client, no_role).status_code == 401
    # with a map, a value the map does not name grants nothing, even one spelled like a platform role
    own_admin = idp.token(RSA_KEY, preferred_username="x", realm_access={"roles": ["admin"]}, division_code="52")
    assert whoami(client, own_admin).status_code == 401


def test_in_production_a_valid_development_token_is_refused(idp):
    secret = "s" * 40
    client = api(ServiceSettings(env="production", jwt_secret=secret, oidc_issuer=idp.issuer.replace("http", "https"),
                                 oidc_audience=idp.audience))
    assert client.verifier.dev is None
    r = whoami(client, dev_token("admin", "52", secret=secret))
    assert r.status_code == 401, r.text
    with pytest.raises(RuntimeError, match="disabled"):
        client.verifier.mint(Actor(user_id="u", role="admin", jurisdiction="52"))
    enabled = api(ServiceSettings(env="production", jwt_secret=secret, jwt_dev_tokens=True))
    assert whoami(enabled, dev_token("admin", "52", secret=secret)).status_code == 200


def test_development_tokens_still_work_beside_the_provider(idp):
    client = api(settings_for(idp))
    assert whoami(client, dev_token("county_officer", "520102")).status_code == 200
    assert whoami(client, idp.token(RSA_KEY)).status_code == 200
