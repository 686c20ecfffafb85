"""Personal data at rest on PostgreSQL: the cipher key starts, nothing personal in a database dump, erasure
through the API leaves the name nowhere (dump, rebuilt read model, Kafka messages, logs) while counts stay."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid


import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition
from eventsourcing.cryptography import AESCipher
from fastapi.testclient import TestClient
from psycopg import sql

from services.registry.domain import pseudonyms
from services.registry.entrypoints.api import create_app
from services.registry.adapters.publishing import contract_mapper
from services.registry.bootstrap import build_registry
from services.registry.adapters.keys import KeyFileProvider
from services.registry.settings import RegistrySettings
from services.registry.tests.stories import make_id
from services.runtime.bootstrap import build_runtime
from services.runtime.relay import Relay
from services.runtime.scratchdb import fresh_database
from services.runtime.testing import auth

pytestmark = pytest.mark.integration
COUNTY = auth("county_officer", "520102")
A, B, C = make_id("52010220160512103"), make_id("52010220150807102"), make_id("52010220140301105")
NAMES = {A: "欧阳明珠", B: "司马光辉", C: "诸葛文静"}
PHONE = "13987654321"


@pytest.fixture
def own_database(database_url):
    """A database of this test alone (the dump must hold nothing but what this test wrote)."""
    with fresh_database(database_url, "baoxue_p") as url:
        yield url


def settings_for(url: str, tmp_path, **extra) -> RegistrySettings:
    key_file = tmp_path / "kek.json"
    if not key_file.exists():
        KeyFileProvider.write(key_file, {"k1": os.urandom(32)}, "k1")
    return RegistrySettings(database_url=url, env="test", db_pool_size=2, key_file=key_file,
                            pseudonym_key=os.urandom(24).hex(), **extra)


def dump(url: str) -> str:
    """The whole database as text: pg_dump when it matches the server, else COPY of every table (bytea as hex)."""
    if shutil.which("pg_dump"):
        done = subprocess.run(["pg_dump", "--data-only", url], capture_output=True, timeout=120)
        if done.returncode == 0:
            return done.stdout.decode("utf-8", "replace")
    out = []
    with psycopg.connect(url) as conn:
        tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = "
                              "'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')").fetchall()
        for schema, table in tables:
            with conn.cursor().copy(sql.SQL("COPY {} TO STDOUT").format(sql.Identifier(schema, table))) as copy:
                out.extend(bytes(chunk).decode("utf-8", "replace") for chunk in copy)
    return "".join(out)


def found_in(text: str, value: str) -> bool:
    """In clear, or as the hex of its UTF-8 bytes (how a dump shows bytea columns such as the event state)."""
    return value in text or value.encode().hex() in text.lower()


def read_topic(bootstrap: str, topic: str, timeout: float = 8) -> list[bytes]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"r-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(6)])
    out, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is not None and not msg.error():
            out.append(msg.value() + b"".join(v or b"" for _, v in (msg.headers() or [])))
    consumer.close()
    return out


def start(settings: RegistrySettings):
    runtime = build_runtime("registry", "api", settings)
    registry = build_registry(runtime, settings)
    return runtime, registry, TestClient(create_app(runtime, registry, settings.rules()))


def test_the_api_starts_and_round_trips_with_the_cipher_key_set(own_database, tmp_path):
    settings = settings_for(own_database, tmp_path, cipher_key=AESCipher.create_key(16))
    runtime, registry, client = start(settings)
    try:
        with client:
            assert registry.store.mapper.cipher is not None
            r = client.post("/v1/schools", headers=COUNTY, json={"code": "CK-1", "name": "密钥小学", "level": "primary",
                                                                "county_code": "520102", "township_code": "520102001"})
            assert r.status_code == 201
            r = client.post("/v1/students", headers=COUNTY, json={
                "id_number": A, "name": NAMES[A], "birth_date": "2016-05-12", "school_id": r.json()["school_id"],
                "grade": 4, "class_name": "4-1"})
            assert r.status_code == 201, r.text
            got = client.get(f"/v1/students/{r.json()['student_id']}", headers=COUNTY).json()
            assert got["name_masked"] == "欧**珠" and got["grade"] == 4
            assert not found_in(dump(own_database), "密钥小学")  # the whole state is encrypted too
    finally:
        runtime.close()
        pseudonyms.configure(pseudonyms.DEV_PSEUDONYM_KEY)


def test_erasure_leaves_the_name_nowhere_while_counts_stay(own_database, tmp_path, kafka_bootstrap, capfd):
    settings = settings_for(own_database, tmp_path, kafka_bootstrap=kafka_bootstrap)
    runtime, registry, client = start(settings)
    topic = f"test.registry.erasure.{uuid.uuid4().hex[:8]}"
    relay = Relay(service="registry", app=registry.store, db=runtime.db, topic=topic, to_contract=contract_mapper(registry.store),
                  bootstrap=kafka_bootstrap, partitions=6, metrics=runtime.metrics, logger=runtime.logger,
                  safety_poll_s=0.2)
    stop = {"now": False}
    try:
        with client:
            school = client.post("/v1/schools", headers=COUNTY, json={
                "code": "ER-1", "name": "一小", "level": "primary", "county_code": "520102",
                "township_code": "520102001"}).json()["school_id"]
            students = "身份证号,姓名,出生日期,学校代码,年级,班级,监护人,监护人电话\n" + "".join(
                f"{i},{NAMES[i]},{i[6:10]}-{i[10:12]}-{i[12:14]},ER-1,4,4-1,家长{k},{PHONE}\n"
                for k, i in enumerate((A, B)))
            r = client.post("/v1/imports/students", params={"filename": "s.csv"}, headers=COUNTY,
                            content=students.encode())
            assert r.json()["imported"], r.text
            ids = {row["line"]: row["student_id"] for row in r.json()["student_ids"]}
            sid_a, sid_b = ids[2], ids[3]
            population = "身份证号,姓名,出生日期,乡镇代码\n" + "".join(
                f"{i},{NAMES[i]},{i[6:10]}-{i[10:12]}-{i[12:14]},520102001\n" for i in (A, B, C))
            r = client.post("/v1/imports/population", params={"filename": "p.csv", "source": "public_security"},
                            headers=COUNTY, content=population.encode())
            sid_c = {row["line"]: row["student_id"] for row in r.json()["student_ids"]}[4]
            r = client.post("/v1/comparisons/run", headers=COUNTY, json={"kinds": ["out_of_school"],
                                                                         "as_of": "2026-09-20"})
            assert r.json()["results"]["out_of_school"]["identified"] == 1  # C, with its masked name as evidence
            before = client.get("/v1/counts", params={"by": "school"}, headers=COUNTY).json()
            # the relay publishes what happened so far (masked forms, as before erasure)
            relay_thread = threading.Thread(target=relay.run, args=(lambda: stop["now"],), daemon=True)
            relay_thread.start()
            text = dump(own_database)
            for value in (*NAMES.values(), A, B, C, PHONE, "家长0"):  # at rest: nothing personal in clear
                assert not found_in(text, value), value
            assert client.get("/v1/children", params={"name": NAMES[A]}, headers=COUNTY).json()[0][
                "name_masked"] == "欧**珠"

            body = {"legal_basis": "consent_withdrawn", "reference": "南教删〔2026〕1号", "approved_by": "county-head"}
            url = f"/v1/students/{sid_a}/erasure"
            assert client.post(url, headers=auth("head_teacher", "520102"), json=body).status_code == 403
            assert client.post(url, headers=auth("county_officer", "520103"), json=body).status_code == 404
            r = client.post(url, headers=COUNTY, json={**body, "legal_basis": "because"})
            assert r.status_code == 422 and "legal_basis" in str(r.json()["detail"][0]["loc"])
            for sid in (sid_a, sid_c):
                r = client.post(f"/v1/students/{sid}/erasure", headers=COUNTY, json=body)
                assert r.status_code == 200 and r.json()["data_keys_destroyed"] >= 1, r.text

            history = client.get(f"/v1/children/{sid_a}/history", headers=COUNTY).json()
            assert "欧**珠" not in str(history) and A[-4:] not in str(history)
            assert client.get("/v1/children", params={"name": NAMES[A]}, headers=COUNTY).json() == []
            assert client.get("/v1/counts", params={"by": "school"}, headers=COUNTY).json() == before
            assert client.get(f"/v1/students/{sid_b}", headers=COUNTY).json()["name_masked"] == "司**辉"

            registry.index.drop()  # rebuilt from the events, with the live KEK: still nothing of A or C
            registry.index.catch_up(registry.store)
            events = str([vars(registry.store.mapper.to_domain_event(n))
                          for n in registry.store.recorder.select_notifications(start=1, limit=10_000)])
            text = dump(own_database)
            for value in (NAMES[A], NAMES[C], A, C, "欧**珠", "诸**静"):
                assert value not in events and not found_in(text, value), value
            assert NAMES[B] in events  # the others are untouched
            deadline = time.monotonic() + 20
            messages = b""
            while time.monotonic() < deadline and b"StudentErased" not in messages:
                messages = b"".join(read_topic(kafka_bootstrap, topic, timeout=2))
            stop["now"] = True
            relay_thread.join(10)
            assert b"StudentErased" in messages and sid_a.encode() in messages
            for value in (*NAMES.values(), A, B, C, PHONE):  # masked forms published before stay in the log:
                assert value.encode() not in messages, value  # StudentErased.v1 tells consumers to drop theirs
        logs = "".join(capfd.readouterr())
        for value in (*NAMES.values(), A, B, C, PHONE):
            assert value not in logs, value
    finally:
        stop["now"] = True
        runtime.close()
        pseudonyms.configure(pseudonyms.DEV_PSEUDONYM_KEY)


def test_kek_rotation_by_the_cli_rewraps_every_data_key_and_the_old_kek_can_go(own_database, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from services.registry.bootstrap import CLI as cli

    secret = os.urandom(24).hex()
    settings = RegistrySettings(database_url=own_database, env="test", db_pool_size=2, key_file=tmp_path / "kek.json", pseudonym_key=secret)
    KeyFileProvider.write(settings.key_file, {"k1": os.urandom(32)}, "k1")
    runtime, registry, client = start(settings)
    try:
        with client:
            school = client.post("/v1/schools", headers=COUNTY, json={
                "code": "RT-1", "name": "轮换小学", "level": "primary", "county_code": "520102",
                "township_code": "520102001"}).json()["school_id"]
            sid = client.post("/v1/students", headers=COUNTY, json={
                "id_number": A, "name": NAMES[A], "birth_date": "2016-05-12", "school_id": school, "grade": 4,
                "class_name": "4-1", "guardian_phone": PHONE}).json()["student_id"]
    finally:
        runtime.close()
    runner = CliRunner()
    monkeypatch.setenv("BAOXUE_DATABASE_URL", own_database)
    monkeypatch.setenv("BAOXUE_KEY_FILE", str(settings.key_file))
    monkeypatch.setenv("BAOXUE_ENV", "test")
    done = runner.invoke(cli, ["new-kek", "--key-file", str(settings.key_file)])
    assert done.exit_code == 0 and "k2" in done.output
    done = runner.invoke(cli, ["rotate-keys", "--drop-old"])
    assert done.exit_code == 0, done.output
    assert "re-wrapped 1 data keys under k2" in done.output and "after: {'k2': 1}" in done.output
    assert sorted(KeyFileProvider.from_file(settings.key_file)._keys) == ["k2"]  # the old KEK is gone
    runtime, registry, _ = start(settings)  # a new process: nothing cached, only the new KEK
    try:
        student = registry.registration.student(uuid.UUID(sid))
        assert (student.name, student.guardian_phone) == (NAMES[A], PHONE)
    finally:
        runtime.close()
        pseudonyms.configure(pseudonyms.DEV_PSEUDONYM_KEY)
