"""The simulator speaks the services' documented interfaces without importing them: its development tokens are
what the runtime verifies, and its clock file is what the runtime's FileClock reads."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from services.runtime.auth import TokenCodec
from services.runtime.clock import FileClock
from services.runtime.settings import ServiceSettings
from simulator.clock import CHINA, write_clock
from simulator.tokens import DEV_JWT_ISSUER, DEV_JWT_SECRET, DevTokens


def test_the_development_defaults_are_the_services_defaults(monkeypatch) -> None:
    monkeypatch.delenv("BAOXUE_JWT_SECRET", raising=False)
    monkeypatch.delenv("BAOXUE_JWT_ISSUER", raising=False)
    settings = ServiceSettings()
    assert (DEV_JWT_SECRET, DEV_JWT_ISSUER) == (settings.jwt_secret, settings.jwt_issuer)


def test_a_simulator_token_names_the_actor_the_services_see(monkeypatch) -> None:
    monkeypatch.setenv("BAOXUE_JWT_SECRET", "a-secret-of-a-stack-of-its-own-32-chars")
    monkeypatch.setenv("BAOXUE_JWT_ISSUER", "sim-issuer")
    settings = ServiceSettings()
    codec = TokenCodec(settings.jwt_secret, settings.jwt_issuer)
    actor = codec.verify(DevTokens().mint("gate-1", "attendance_system", "520102", schools=["s1", "s2"], name="闸机"))
    assert (actor.user_id, actor.role, actor.jurisdiction, actor.schools, actor.name) == (
        "gate-1", "attendance_system", "520102", ["s1", "s2"], "闸机")
    plain = codec.verify(DevTokens().mint("u", "county_officer", "5201"))
    assert (plain.schools, plain.name) == (None, None)


def test_an_expired_or_foreign_token_is_refused() -> None:
    codec = TokenCodec(DEV_JWT_SECRET, DEV_JWT_ISSUER)
    old = DevTokens(DEV_JWT_SECRET, DEV_JWT_ISSUER).mint("u", "county_officer", "5201",
                                                         now=datetime.now(timezone.utc) - timedelta(hours=13))
    other = DevTokens("another-key-another-key-another-key", DEV_JWT_ISSUER).mint("u", "county_officer", "5201")
    for token in (old, other):
        try:
            codec.verify(token)
        except ValueError:
            continue
        raise AssertionError("accepted")


def test_the_clock_file_is_what_every_process_reads(tmp_path) -> None:
    path = tmp_path / "clock"
    clock = FileClock(path)
    at = datetime(2026, 9, 14, 7, 30, tzinfo=CHINA)
    write_clock(path, at)
    assert timedelta(0) <= clock.now() - at < timedelta(seconds=5)
    assert clock.today().isoformat() == "2026-09-14"
    time.sleep(0.02)  # a new modification time: how a reader sees that the file changed
    write_clock(path, datetime(2026, 9, 15, 23, 0))  # naive: China time, as the services read it too
    assert clock.today().isoformat() == "2026-09-15"
    assert clock.now().utcoffset() is not None and clock.now().astimezone(CHINA).hour == 23
    assert list(tmp_path.iterdir()) == [path]  # replaced atomically, no temporary left
