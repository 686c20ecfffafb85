"""Identity and configuration rules every service relies on."""

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from services.runtime.auth import Actor, TokenCodec
from services.runtime.clock import FileClock, FixedClock
from services.runtime.settings import DEV_JWT_SECRET, ServiceSettings


def test_the_development_signing_key_is_refused_outside_development():
    with pytest.raises(ValidationError, match="placeholder"):
        ServiceSettings(env="production", jwt_dev_tokens=True)
    with pytest.raises(ValidationError, match="32 characters"):
        ServiceSettings(env="production", jwt_dev_tokens=True, jwt_secret="short")
    assert ServiceSettings(env="production", jwt_dev_tokens=True, jwt_secret="x" * 40).dev_tokens_enabled
    assert ServiceSettings(env="development").jwt_secret == DEV_JWT_SECRET
    assert ServiceSettings(env="development").dev_tokens_enabled


def test_the_example_secret_shipped_in_deploy_is_refused_too():
    # 42 characters, so the length rule alone let the k8s example value sign production tokens
    with pytest.raises(ValidationError, match="placeholder"):
        ServiceSettings(env="production", jwt_dev_tokens=True, jwt_secret="replace-with-at-least-32-random-characters")
    with pytest.raises(ValidationError, match="placeholder"):
        ServiceSettings(env="production", jwt_dev_tokens=True, jwt_secret=DEV_JWT_SECRET + " ")


def test_production_refuses_development_tokens_unless_enabled_and_needs_a_provider():
    with pytest.raises(ValidationError, match="OIDC_ISSUER"):
        ServiceSettings(env="production", jwt_secret="x" * 40)
    settings = ServiceSettings(env="production", oidc_issuer="https://idp.example.gov.cn/realms/gz",
                               oidc_audience="baoxue")
    assert not settings.dev_tokens_enabled  # the placeholder secret is then never used to verify anything
    with pytest.raises(ValidationError, match="AUDIENCE"):
        ServiceSettings(oidc_issuer="https://idp.example.gov.cn")
    with pytest.raises(ValidationError, match="https"):
        ServiceSettings(env="production", oidc_issuer="http://idp.example.gov.cn", oidc_audience="baoxue")
    with pytest.raises(ValidationError, match="ALGORITHMS"):
        ServiceSettings(oidc_algorithms=["HS256"])
    with pytest.raises(ValidationError, match="ROLE_MAP"):
        ServiceSettings(oidc_role_map={"edu-county": "emperor"})


def test_settings_come_from_baoxue_prefixed_environment(monkeypatch):
    monkeypatch.setenv("BAOXUE_KAFKA_PARTITIONS", "12")
    monkeypatch.setenv("BAOXUE_DATABASE_URL", "postgresql://u:p%40ss@db.example:6543/prov")
    settings = ServiceSettings()
    assert settings.kafka_partitions == 12
    assert settings.pg_params() == {"host": "db.example", "port": "6543", "user": "u", "password": "p@ss", "dbname": "prov"}


def test_a_token_names_the_actor_and_its_jurisdiction():
    codec = TokenCodec("k" * 40)
    actor = Actor(user_id="u-1", role="county_officer", jurisdiction="520102", name="李科长")
    assert codec.verify(codec.mint(actor)) == actor
    assert actor.covers("520102001") and not actor.covers("520103001") and not actor.covers(None)


@pytest.mark.parametrize(
    "token, reason",
    [
        ("not-a-jwt", "invalid token"),
        (TokenCodec("other-key" * 5).mint(Actor(user_id="u", role="admin", jurisdiction="52")), "invalid token"),
        (TokenCodec("k" * 40).mint(Actor(user_id="u", role="admin", jurisdiction="52"), ttl=timedelta(seconds=-5)), "expired"),
    ],
)
def test_forged_or_expired_tokens_are_refused(token, reason):
    with pytest.raises(ValueError, match=reason):
        TokenCodec("k" * 40).verify(token)


def test_a_token_with_an_unknown_role_is_refused():
    import jwt

    forged = jwt.encode({"sub": "u", "role": "emperor", "jur": "52", "iss": "baoxue",
                         "exp": int((datetime.now(timezone.utc) + timedelta(hours=1)).timestamp())}, "k" * 40, algorithm="HS256")
    with pytest.raises(ValueError, match="claims"):
        TokenCodec("k" * 40).verify(forged)


def test_clocks_can_be_fixed_or_shared_through_a_file(tmp_path):
    clock = FixedClock(datetime(2026, 9, 1, 8, 0))
    clock.advance(days=2)
    assert clock.today().isoformat() == "2026-09-03"
    path = tmp_path / "clock"
    FileClock.write(path, datetime(2027, 3, 1, 9, 0, tzinfo=timezone.utc))
    shared = FileClock(path)
    assert shared.today().isoformat() == "2027-03-01"
    assert abs((shared.now() - datetime(2027, 3, 1, 9, 0, tzinfo=timezone.utc)).total_seconds()) < 5


def test_a_jurisdiction_claim_in_full_width_digits_is_refused():
    """`\\d` matches any script's digits: '５２' would be a jurisdiction no code starts with, or worse, one that looks
    like another."""
    with pytest.raises(ValidationError):
        Actor(user_id="u", role="county_officer", jurisdiction="５２０１０２")
    import jwt

    forged = jwt.encode({"sub": "u", "role": "county_officer", "jur": "５２０１０２", "iss": "baoxue",
                         "exp": int((datetime.now(timezone.utc) + timedelta(hours=1)).timestamp())}, "k" * 40)
    with pytest.raises(ValueError, match="invalid token claims"):
        TokenCodec("k" * 40).verify(forged)
