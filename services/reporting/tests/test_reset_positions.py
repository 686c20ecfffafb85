"""A database that ran before the inbox existed: reset reporting's consumer positions once so the consumer re-reads
its topics and the inbox fills; never under a running consumer."""

from __future__ import annotations

import psycopg
import pytest
from typer.testing import CliRunner

from services.reporting.adapters.positions import CONSUMER, ConsumerRunning, reset_positions
from services.reporting.entrypoints import cli

pytestmark = pytest.mark.integration


def _rows(db, table: str) -> list[tuple]:
    with db.transaction() as conn:
        return [(r["consumer"], r["topic"], r["partition"])
                for r in conn.execute(f"SELECT * FROM {table} ORDER BY consumer, topic, partition")]


@pytest.fixture(autouse=True)
def _clean(reporting_db):
    yield
    with reporting_db.transaction() as conn:
        for table in ("consumer_positions", "consumer_offsets"):
            conn.execute(f"DELETE FROM {table} WHERE consumer IN (%s, 'someone-else')", (CONSUMER,))


def _positions(db) -> None:
    with db.transaction() as conn:
        conn.execute("DELETE FROM consumer_positions WHERE consumer IN (%s, 'someone-else')", (CONSUMER,))
        conn.execute("DELETE FROM consumer_offsets WHERE consumer IN (%s, 'someone-else')", (CONSUMER,))
        for consumer in (CONSUMER, "someone-else"):
            for partition in (0, 1):
                conn.execute("INSERT INTO consumer_positions VALUES (%s, 'baoxue.casework.v1', %s, 40)",
                             (consumer, partition))
                conn.execute("INSERT INTO consumer_offsets VALUES (%s, 'baoxue.casework.v1', %s, 41, 'c1')",
                             (consumer, partition))


def test_resetting_forgets_only_reportings_positions_and_offsets(feed, reporting_db):
    _positions(reporting_db)
    assert reset_positions(reporting_db) == {"consumer_positions": 2, "consumer_offsets": 2}
    assert [r[0] for r in _rows(reporting_db, "consumer_positions") if r[0] in (CONSUMER, "someone-else")] == [
        "someone-else", "someone-else"]
    assert [r[0] for r in _rows(reporting_db, "consumer_offsets") if r[0] in (CONSUMER, "someone-else")] == [
        "someone-else", "someone-else"]
    assert reset_positions(reporting_db) == {"consumer_positions": 0, "consumer_offsets": 0}  # again: nothing left


def test_a_running_consumer_keeps_its_positions(feed, reporting_db):
    _positions(reporting_db)
    with psycopg.connect(reporting_db.url, autocommit=True) as running:  # the consumer's leadership lock
        running.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"baoxue-consumer:{CONSUMER}",))
        with pytest.raises(ConsumerRunning):
            reset_positions(reporting_db)
    assert sum(r[0] == CONSUMER for r in _rows(reporting_db, "consumer_positions")) == 2
    assert reset_positions(reporting_db)["consumer_positions"] == 2  # once it has stopped


def test_the_command_asks_first_and_reports_what_it_removed(feed, reporting_db):
    _positions(reporting_db)
    app = cli.build_cli(lambda role: cli.Operator(reporting_db, monthly=lambda: pytest.fail("not needed")))
    runner = CliRunner()
    declined = runner.invoke(app, ["reset-positions"], input="n\n")
    assert declined.exit_code == 1 and sum(r[0] == CONSUMER for r in _rows(reporting_db, "consumer_positions")) == 2
    done = runner.invoke(app, ["reset-positions", "--yes"])
    assert done.exit_code == 0 and "2 positions, 2 offset hints" in done.output
    assert not any(r[0] == CONSUMER for r in _rows(reporting_db, "consumer_positions"))
