"""Reporting read models (schema ``reporting``): derived from events, droppable and rebuildable.

Every writer is an idempotent upsert ordered by the source sequence, so a redelivered or replayed
event leaves the same rows; each write also moves the topic's position the figures reflect.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from services.runtime.db import Database

DDL = """
CREATE TABLE IF NOT EXISTS schools (
    school_id text PRIMARY KEY,
    code text NOT NULL,
    name text NOT NULL,
    level text NOT NULL,
    county_code text NOT NULL,
    township_code text NOT NULL,
    last_sequence bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS schools_township ON schools (township_code text_pattern_ops);
CREATE TABLE IF NOT EXISTS students (
    student_id text PRIMARY KEY,
    school_id text NOT NULL,
    county_code text NOT NULL,
    township_code text NOT NULL,
    grade int NOT NULL,
    class_name text NOT NULL,
    name_masked text NOT NULL,
    id_number_masked text NOT NULL,
    last_sequence bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger (
    case_id text PRIMARY KEY,
    student_id text NOT NULL,
    school_id text,
    township_code text NOT NULL,
    county_code text NOT NULL,
    source text NOT NULL,
    status text NOT NULL,
    opened_at timestamptz NOT NULL,
    last_event_at timestamptz NOT NULL,
    last_topic text NOT NULL,
    last_sequence bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_township_opened ON ledger (township_code text_pattern_ops, opened_at DESC);
CREATE INDEX IF NOT EXISTS ledger_county_status ON ledger (county_code, status);
CREATE TABLE IF NOT EXISTS applied_positions (
    topic text PRIMARY KEY,
    sequence bigint NOT NULL,
    event_time timestamptz NOT NULL
);
"""

SUSPECTED = "suspected"
OPEN_SUSPECTED_STATUSES = (SUSPECTED,)
TABLES = ("schools", "students", "ledger", "applied_positions")


def install(db: Database) -> None:
    """Creates the read-model tables if missing (idempotent; processes starting together take turns by a lock)."""
    db.execute_script(DDL)


def county_of(township_code: str) -> str:
    """The county (县) of a township code: its first six digits."""
    return township_code[:6]


def advance(conn: psycopg.Connection, topic: str, sequence: int, event_time: datetime) -> None:
    """Moves the position of a topic the read models reflect (never backwards)."""
    conn.execute(
        "INSERT INTO applied_positions AS p (topic, sequence, event_time) VALUES (%s, %s, %s) "
        "ON CONFLICT (topic) DO UPDATE SET sequence = EXCLUDED.sequence, event_time = EXCLUDED.event_time "
        "WHERE p.sequence < EXCLUDED.sequence",
        (topic, sequence, event_time),
    )


def upsert_school(conn: psycopg.Connection, *, sequence: int, **row: str) -> None:
    conn.execute(
        "INSERT INTO schools AS s (school_id, code, name, level, county_code, township_code, last_sequence) "
        "VALUES (%(school_id)s, %(code)s, %(name)s, %(level)s, %(county_code)s, %(township_code)s, %(sequence)s) "
        "ON CONFLICT (school_id) DO UPDATE SET code = EXCLUDED.code, name = EXCLUDED.name, level = EXCLUDED.level, "
        "county_code = EXCLUDED.county_code, township_code = EXCLUDED.township_code, "
        "last_sequence = EXCLUDED.last_sequence WHERE s.last_sequence < EXCLUDED.last_sequence",
        {**row, "sequence": sequence},
    )


def upsert_student(conn: psycopg.Connection, *, sequence: int, **row: object) -> None:
    conn.execute(
        "INSERT INTO students AS s (student_id, school_id, county_code, township_code, grade, class_name, "
        "name_masked, id_number_masked, last_sequence) VALUES (%(student_id)s, %(school_id)s, %(county_code)s, "
        "%(township_code)s, %(grade)s, %(class_name)s, %(name_masked)s, %(id_number_masked)s, %(sequence)s) "
        "ON CONFLICT (student_id) DO UPDATE SET school_id = EXCLUDED.school_id, county_code = EXCLUDED.county_code, "
        "township_code = EXCLUDED.township_code, grade = EXCLUDED.grade, class_name = EXCLUDED.class_name, "
        "name_masked = EXCLUDED.name_masked, id_number_masked = EXCLUDED.id_number_masked, "
        "last_sequence = EXCLUDED.last_sequence WHERE s.last_sequence < EXCLUDED.last_sequence",
        {**row, "sequence": sequence},
    )


def open_case(
    conn: psycopg.Connection,
    *,
    case_id: str,
    student_id: str,
    school_id: str | None,
    township_code: str,
    source: str,
    opened_at: datetime,
    topic: str,
    sequence: int,
) -> None:
    """A ledger row at the suspected stage; opening again (a duplicate) changes nothing."""
    conn.execute(
        "INSERT INTO ledger (case_id, student_id, school_id, township_code, county_code, source, status, "
        "opened_at, last_event_at, last_topic, last_sequence) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (case_id) DO NOTHING",
        (case_id, student_id, school_id, township_code, county_of(township_code), source, SUSPECTED,
         opened_at, opened_at, topic, sequence),
    )
