"""`baoxue deadletters list|replay` on real PostgreSQL, through a real service's consumer wiring (attendance's
roster consumer): a dead letter is listed without its payload, replayed once through the consumer's own policy,
and a second replay does nothing; a letter that still fails stays dead with exit code 1."""

from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner

from contracts.events.registry import SchoolRegisteredV1
from devstack.cli import app
from services.runtime.consumer import ProjectionSink
from services.runtime.consumer_dlq import DeadLetters
from services.runtime.db import Database
from services.runtime.logging import configure_logging
from services.runtime.metrics import Metrics
from services.runtime.scratchdb import fresh_database
from services.runtime.tests.test_dead_letters import Polled, encoded

pytestmark = pytest.mark.integration


@pytest.fixture
def url(database_url, monkeypatch):
    with fresh_database(database_url, "dlq_cli") as fresh:
        monkeypatch.setenv("BAOXUE_DATABASE_URL", fresh)
        monkeypatch.setenv("BAOXUE_ENV", "development")
        yield fresh


def record(url: str, value_of=lambda v: v) -> tuple[int, str]:
    """A dead letter of attendance's consumer, recorded as the loop records one (with the skip of its position)."""
    db = Database(url, "attendance", size=1)
    try:
        dead = DeadLetters(service="attendance", name="attendance", bootstrap="127.0.0.1:1", partitions=1,
                           metrics=Metrics("attendance"), log=configure_logging("attendance", "consumer"), db=db)
        school = str(uuid.uuid4())
        sequence = int(uuid.uuid4().int % 10**6) + 1
        headers, key, value = encoded(school, sequence)
        letter = dead.letter(Polled("baoxue.registry", 0, 5, key, value_of(value), headers), "processing_failed",
                             "ValueError: table missing", sequence=sequence)
        ProjectionSink(db, "attendance").skip("attendance:baoxue.registry:0", sequence, also=letter.write)
        assert letter.id is not None
        return letter.id, school
    finally:
        db.close()


def schools(url: str, school: str) -> int:
    db = Database(url, "attendance", size=1)
    try:
        with db.transaction() as conn:
            return conn.execute("SELECT count(*) AS n FROM schools WHERE school_id = %s", (school,)).fetchone()["n"]
    finally:
        db.close()


def test_a_dead_letter_is_listed_and_replayed_once_through_the_consumers_policy(url):
    runner = CliRunner()
    empty = runner.invoke(app, ["deadletters", "list", "attendance"])
    assert empty.exit_code == 0 and "无死信" in empty.output, empty.output
    runner.invoke(app, ["run", "attendance", "migrate"])  # the schema the consumer reads and writes
    letter_id, school = record(url)
    listed = runner.invoke(app, ["deadletters", "list", "attendance"])
    assert listed.exit_code == 0, listed.output
    assert f"#{letter_id}\tattendance\tdead\tprocessing_failed\tbaoxue.registry/0/5" in listed.output
    assert "一小" not in listed.output, "never the payload"
    done = runner.invoke(app, ["deadletters", "replay", "attendance", str(letter_id)])
    assert done.exit_code == 0 and f"#{letter_id}\t已重放" in done.output, done.output
    assert schools(url, school) == 1
    again = runner.invoke(app, ["deadletters", "replay", "attendance", "--all"])
    assert again.exit_code == 0 and "无待重放的死信" in again.output, again.output
    twice = runner.invoke(app, ["deadletters", "replay", "attendance", str(letter_id), "--consumer", "attendance"])
    assert twice.exit_code == 0 and "此前已重放" in twice.output, twice.output
    assert schools(url, school) == 1, "applied once"
    assert "replayed" in runner.invoke(app, ["deadletters", "list", "--replayed"]).output


def test_a_letter_that_fails_again_stays_dead_and_bad_arguments_are_refused(url):
    runner = CliRunner()
    runner.invoke(app, ["run", "attendance", "migrate"])
    broken = lambda v: json.dumps({**json.loads(v), "county_code": None}).encode()  # noqa: E731
    letter_id, school = record(url, broken)
    failed = runner.invoke(app, ["deadletters", "replay", "attendance", "--all"])
    assert failed.exit_code == 1 and f"#{letter_id}\t重放失败" in failed.output, failed.output
    assert "county_code" in failed.output and schools(url, school) == 0
    listed = runner.invoke(app, ["deadletters", "list", "attendance"]).output
    assert "attempts=1" in listed and "county_code" in listed
    assert runner.invoke(app, ["deadletters", "replay", "attendance"]).exit_code == 2  # neither id nor --all
    assert runner.invoke(app, ["deadletters", "replay", "attendance", "1", "--all"]).exit_code == 2
    assert runner.invoke(app, ["deadletters", "replay", "registry", "--all"]).exit_code == 2  # no consumer
    assert runner.invoke(app, ["deadletters", "replay", "attendance", "--all", "--consumer", "x"]).exit_code == 2
    assert runner.invoke(app, ["deadletters", "replay", "attendance", "999999"]).exit_code == 1
