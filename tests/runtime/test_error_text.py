"""Errors as logs show them: PostgreSQL's DETAIL repeats the row or key that failed (a child's ID number, name,
birth date); the runtime logs and dead-letters database errors without it, so no log line carries personal data."""

from __future__ import annotations

import io
import time

import psycopg
import pytest
import structlog

from services.runtime.logging import error_text
from tests.runtime.test_relay_consumer import Harness, read_all

pytestmark = pytest.mark.integration

ID_NUMBER, NAME, BIRTH = "520102201507234182", "欧阳晓彤", "2015-07-23"


@pytest.fixture
def conn(database_url):
    with psycopg.connect(database_url, autocommit=True) as c:
        c.execute("CREATE TEMP TABLE kid (id_number text PRIMARY KEY, name text NOT NULL, born date)")
        c.execute("INSERT INTO kid VALUES (%s, %s, %s)", (ID_NUMBER, NAME, BIRTH))
        yield c


@pytest.mark.parametrize("sql, params, kind", [
    ("INSERT INTO kid VALUES (%s, %s, %s)", (ID_NUMBER, NAME, BIRTH), "UniqueViolation"),
    ("INSERT INTO kid VALUES (%s, NULL, %s)", (ID_NUMBER[:-1] + "3", BIRTH), "NotNullViolation"),
    ("INSERT INTO kid VALUES (%s, %s, %s)", (ID_NUMBER[:-1] + "4", NAME, BIRTH + "x"), "InvalidDatetimeFormat"),
])
def test_a_database_error_is_told_without_the_values_postgresql_repeats(conn, sql, params, kind):
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(sql, params)
    assert ID_NUMBER[:-1] in str(caught.value) or BIRTH in str(caught.value)  # what used to be logged
    for exc in (caught.value, _wrapped(caught.value)):
        text = error_text(exc)
        assert kind in text and caught.value.sqlstate in text
        assert ID_NUMBER[:-1] not in text and NAME not in text and BIRTH not in text, text
    assert "constraint=kid_pkey" in error_text(caught.value) or kind != "UniqueViolation"


def _wrapped(exc: BaseException) -> BaseException:
    try:
        raise RuntimeError(f"store failed: {exc}") from exc  # as eventsourcing's recorders wrap psycopg's errors
    except RuntimeError as outer:
        return outer


def test_other_errors_keep_their_message():
    assert error_text(ValueError("school S1 unknown")) == "ValueError: school S1 unknown"
    assert len(error_text(ValueError("x" * 1000))) == 300


def test_a_message_dead_lettered_for_a_database_error_is_logged_and_headed_without_the_row(database_url,
                                                                                          kafka_bootstrap):
    h = Harness(database_url, kafka_bootstrap, partitions=1)
    out = io.StringIO()
    h.log = structlog.wrap_logger(structlog.PrintLogger(out), processors=[structlog.processors.JSONRenderer(
        ensure_ascii=False)])
    h.db.execute_script("CREATE TABLE IF NOT EXISTS strict (student_id text PRIMARY KEY, note text CHECK (false));")

    def projects_what_it_should_not(message, conn):  # a projection bug: the row breaks a constraint
        conn.execute("INSERT INTO strict VALUES (%s, %s)", (message.payload.student_id, f"{NAME} {ID_NUMBER} {BIRTH}"))

    h.enrol(1)
    h.start(h.relay())
    consumer = h.consumer(policy=projects_what_it_should_not)
    h.start(consumer)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "message_dead_lettered" not in out.getvalue():
            time.sleep(0.2)
        dead = read_all(kafka_bootstrap, consumer.dlq_topic, 1, timeout=2)
    finally:
        h.stop_all()
    logged = out.getvalue()
    assert "message_dead_lettered" in logged and "CheckViolation" in logged, logged[-2000:]
    [letter] = dead
    header = dict(letter.headers())["dlq_error"].decode()
    assert "CheckViolation" in header
    for value in (NAME, ID_NUMBER, BIRTH):
        assert value not in logged and value not in header
