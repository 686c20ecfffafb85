"""Session fixtures for the real infrastructure: PostgreSQL and a Kafka-protocol broker, started unless given."""

import os

import pytest

from services.runtime.infra import EmbeddedPostgres, TansuBroker, free_port, scratch_dir
from services.runtime.scratchdb import fresh_database


@pytest.fixture(scope="session")
def database_url():
    """URL of an empty database: a fresh one on $BAOXUE_TEST_DATABASE_URL's server, else on an embedded server."""
    given = os.environ.get("BAOXUE_TEST_DATABASE_URL")
    if given:
        with fresh_database(given, "baoxue_t") as url:
            yield url
        return
    with scratch_dir("baoxue-pg-") as data:  # not tmp_path_factory: see EmbeddedPostgres
        server = EmbeddedPostgres(data / "pg", free_port())
        try:
            server.start()
            yield server.ensure_database("baoxue")
        finally:
            server.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap():
    """bootstrap.servers of a Kafka-protocol broker: $BAOXUE_TEST_KAFKA_BOOTSTRAP, else a tansu started here."""
    given = os.environ.get("BAOXUE_TEST_KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    broker = TansuBroker(free_port())
    try:
        broker.start()
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def broker():
    """A started tansu broker of this test's own, for tests that kill or restart the broker themselves."""
    broker = TansuBroker(free_port())
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()
