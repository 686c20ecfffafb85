"""The local infrastructure runs as real processes, keeps (PostgreSQL) or loses (broker) its data as promised."""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from services.runtime.infra import EmbeddedPostgres, TansuBroker, free_port, scratch_dir

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


def _gone(pid: int) -> bool:
    """True when no process has this pid any more."""
    try:
        os.kill(pid, 0)
        return False
    except ProcessLookupError:
        return True


def _wait_until(check, timeout: float = 30.0) -> None:
    """Poll `check` until it is true, failing the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {check}"
        time.sleep(0.1)


@pytest.fixture
def pg_dir():
    """A data dir the unprivileged postgres user can reach whatever other pytest sessions do to tmp_path."""
    with scratch_dir("baoxue-test-") as path:
        yield path / "pg"


@pytest.fixture
def postgres(pg_dir):
    """An embedded server of this test's own, stopped however the test ends."""
    server = EmbeddedPostgres(pg_dir, free_port())
    server.start()
    yield server
    server.stop()


def test_postgres_keeps_data_across_restart(postgres):
    with psycopg.connect(postgres.ensure_database("keep"), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    postgres.stop()
    assert not postgres.running_pid()

    postgres.start()
    with psycopg.connect(postgres.url("keep")) as conn:
        assert conn.execute("SELECT x FROM kept").fetchall() == [(42,)]
        assert conn.execute("SHOW server_encoding").fetchone() == ("UTF8",)
        # room in the shared lock table for reporting copies' per-child locks (services/reporting/README.md)
        assert conn.execute("SHOW max_locks_per_transaction").fetchone() == ("128",)


def test_postgres_restarts_after_sigkill(postgres):
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE survivor (x int)")
        conn.execute("INSERT INTO survivor VALUES (7)")
    busy = psycopg.connect(postgres.url(), autocommit=True)
    # A backend busy computing outlives its killed postmaster and keeps its shared memory attached.
    query = threading.Thread(target=lambda: _ignore_errors(busy.execute, "SELECT count(*) FROM generate_series(1, 1000000000)"))
    query.start()
    time.sleep(0.3)
    os.kill(postgres.pid, signal.SIGKILL)
    postgres.stop()  # reaps the killed postmaster
    assert (postgres.data_dir / "postmaster.pid").exists()  # stale: postgres must cope with it
    assert postgres.orphans()

    postgres.start()
    with psycopg.connect(postgres.url()) as conn:
        assert conn.execute("SELECT x FROM survivor").fetchall() == [(7,)]
    query.join(timeout=10)
    busy.close()


def _ignore_errors(func, *args) -> None:
    """Run `func`, expecting it to fail because its server is killed."""
    try:
        func(*args)
    except psycopg.Error:
        pass


def test_second_server_on_same_data_dir_is_refused_or_reused(postgres):
    other = EmbeddedPostgres(postgres.data_dir, postgres.port)
    with pytest.raises(RuntimeError, match="already running"):
        other.start()

    other.start(reuse=True)
    assert other.pid == postgres.pid
    psycopg.connect(other.url()).close()


def test_postgres_run_foreground_stops_cleanly_on_sigterm(pg_dir):
    port = free_port()
    server = EmbeddedPostgres(pg_dir, port)
    proc = subprocess.Popen([sys.executable, "-m", "services.runtime.infra", "postgres", str(server.data_dir), str(port)],
                            cwd=REPO, start_new_session=True)
    try:
        _wait_until(server.is_ready)
        idle_client = psycopg.connect(server.url())
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGTERM)  # what honcho sends; must not wait for clients to leave
        assert proc.wait(timeout=30) == 0
        assert time.monotonic() - started < 4  # honcho SIGKILLs after 5 s
        assert server.running_pid() is None
        idle_client.close()
    finally:
        proc.kill()
        proc.wait()


def test_session_fixtures_give_a_database_and_a_broker(database_url, kafka_bootstrap):
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0].startswith("baoxue")
    AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10)


def test_broker_round_trip_then_restart_loses_topics(broker):
    topic = f"t-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(timeout=10)
    first_cluster = admin.list_topics(timeout=10).cluster_id

    producer = Producer({"bootstrap.servers": broker.bootstrap})
    producer.produce(topic, key=b"k", value=b"hello")
    assert producer.flush(10) == 0

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "infra-test",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])  # no group join: slow on this broker
    try:
        deadline = time.monotonic() + 15
        message = None
        while message is None and time.monotonic() < deadline:
            message = consumer.poll(0.5)
        assert message is not None and message.error() is None
        assert (message.key(), message.value()) == (b"k", b"hello")
    finally:
        consumer.close()

    pid = broker.pid
    broker.stop()
    assert _gone(pid)

    broker.start()
    metadata = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10)
    assert metadata.cluster_id != first_cluster
    assert topic not in metadata.topics


def test_broker_run_foreground_stops_on_sigterm():
    broker = TansuBroker(free_port())
    argv = [sys.executable, "-m", "services.runtime.infra", "broker", "-", str(broker.port)]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": REPO, "start_new_session": True}
    proc = subprocess.Popen(argv, **quiet)
    try:
        _wait_until(broker.is_ready)
        admin = AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 0})
        admin.list_topics(timeout=5)  # a connected client makes tansu linger on a plain SIGTERM
        time.sleep(0.5)
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert time.monotonic() - started < 2
        assert not broker.is_ready()
    finally:
        proc.kill()
        proc.wait()


def test_broker_dies_with_its_supervisor():
    broker = TansuBroker(free_port())
    argv = [sys.executable, "-m", "services.runtime.infra", "broker", "-", str(broker.port)]
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until(broker.is_ready)
        proc.kill()
        _wait_until(lambda: not broker.is_ready(), timeout=10)
    finally:
        proc.kill()
        proc.wait()


def test_start_refuses_a_port_already_taken(broker, pg_dir):
    with pytest.raises(RuntimeError, match="cannot start"):
        TansuBroker(broker.port).start()
    with pytest.raises(RuntimeError, match="cannot start"):
        EmbeddedPostgres(pg_dir, broker.port).start()
