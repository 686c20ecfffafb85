"""The inbox: an append-only copy of every consumed envelope and payload, reporting's own event history.

Rebuilds, time travel and monthly restatements replay it, so none of them needs the broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Iterator

import orjson
import psycopg
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from contracts import Contract, contract_for_type
from services.reporting.domain.calendar import start_of
from services.runtime.consumer import Message
from services.runtime.kafka import partition_for

DDL = """
CREATE TABLE IF NOT EXISTS inbox (
    topic text NOT NULL,
    sequence bigint NOT NULL,
    partition int NOT NULL,
    event_id text NOT NULL,
    type text NOT NULL,
    subject text NOT NULL,
    time timestamptz NOT NULL,
    effective_time timestamptz NOT NULL,
    envelope jsonb NOT NULL,
    payload jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, sequence)
);
CREATE INDEX IF NOT EXISTS inbox_time ON inbox (time);
CREATE INDEX IF NOT EXISTS inbox_subject ON inbox (subject);
"""

BUSINESS_DATES = ("corrected_day", "day", "on", "returned_on")
BUSINESS_TIMES = ("opened_at", "verified_at", "assigned_at", "issued_at", "closed_at", "excluded_at", "relapsed_at")


@dataclass(frozen=True)
class Event:
    """One event as the reducers see it: where it sits in its topic, when, by whom, and its payload."""

    topic: str
    partition: int
    sequence: int
    event_id: str
    type: str
    subject: str
    time: datetime
    actor_role: str
    payload: Contract


_WHEN_FIELDS: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {}  # contract -> its business date/time fields


def _when_fields(contract: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The BUSINESS_DATES and BUSINESS_TIMES a contract has, looked up once per class: ``getattr`` of a field a
    pydantic model does not have raises inside pydantic, and eleven of them per event were 17% of the reporting
    consumer's time (cProfile, an onboarding)."""
    found = _WHEN_FIELDS.get(contract)
    if found is None:
        fields = getattr(contract, "model_fields", None)
        found = (BUSINESS_DATES, BUSINESS_TIMES) if fields is None else (  # not a model: look at every name
            tuple(n for n in BUSINESS_DATES if n in fields), tuple(n for n in BUSINESS_TIMES if n in fields))
        _WHEN_FIELDS[contract] = found
    return found


def effective_time(recorded: datetime, payload: Contract) -> datetime:
    """When the fact happened in the world (a correction of 30 Sept belongs to September), else when recorded."""
    dates, times = _when_fields(type(payload))
    for name in dates:
        value = getattr(payload, name, None)
        if isinstance(value, date) and not isinstance(value, datetime):
            return min(recorded, start_of(value) + timedelta(hours=12))
    for name in times:
        value = getattr(payload, name, None)
        if isinstance(value, datetime):
            return min(recorded, value)
    return recorded


_new_event = object.__new__


def event_of(message: Message, partitions: int) -> Event:
    """The message as the reducers see it. Built by filling the new instance's ``__dict__`` at once: the frozen
    dataclass's ``__init__`` sets its nine fields one ``object.__setattr__`` at a time (2.2 → 0.7 µs an event, once
    per consumed message); an equal ``Event``, tested."""
    e = message.envelope
    event = _new_event(Event)
    event.__dict__.update(
        topic=message.payload.topic, partition=partition_for(e.subject, partitions), sequence=e.sequence,
        event_id=e.id, type=e.type, subject=e.subject, time=e.time, actor_role=e.actorrole, payload=message.payload)
    return event


def record(conn: psycopg.Connection, message: Message, event: Event) -> bool:
    """Appends the message; False when this topic position is already in the inbox (a replay)."""
    row = conn.execute(
        "INSERT INTO inbox (topic, sequence, partition, event_id, type, subject, time, effective_time, envelope, "
        "payload) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING RETURNING sequence",
        (
            event.topic, event.sequence, event.partition, event.event_id, event.type, event.subject, event.time,
            effective_time(event.time, event.payload), Jsonb(message.envelope.model_dump(mode="json")),
            Jsonb(message.payload.model_dump(mode="json")),
        ),
    ).fetchone()
    return row is not None


def json_of(model: Any) -> str:
    """``model.model_dump_json()`` (its defaults), straight from the model's serializer: the method's handling of
    its arguments was about half of its cost (4.8 → 2.8 µs an envelope, twice per consumed message); the same
    text, tested."""
    return model.__pydantic_serializer__.to_json(model).decode()  # type: ignore[no-any-return]


INBOX_COLUMNS = ("topic", "sequence", "partition", "event_id", "type", "subject", "time", "effective_time",
                 "envelope", "payload")


def record_many(conn: psycopg.Connection, messages: list[Message], events: list[Event]) -> set[tuple[str, int]]:
    """Appends many messages with one statement; the (topic, sequence) positions that were new to the inbox."""
    if not messages:
        return set()
    rows = [
        (e.topic, e.sequence, e.partition, e.event_id, e.type, e.subject, e.time, effective_time(e.time, e.payload),
         json_of(m.envelope), json_of(m.payload))
        for m, e in zip(messages, events)
    ]
    if len(rows) >= COPY_FROM:
        return _copied(conn, rows)
    types = ("text", "bigint", "int", "text", "text", "text", "timestamptz", "timestamptz", "text", "text")
    found = conn.execute(  # JSON goes as text, parsed by the server (a binary jsonb array would need a version byte)
        f"INSERT INTO inbox ({', '.join(INBOX_COLUMNS)}) "
        f"SELECT t, s, p, i, ty, su, ti, ef, e::jsonb, pa::jsonb FROM unnest({', '.join(f'%b::{t}[]' for t in types)}) AS u(t, s, p, i, ty, su, ti, ef, e, pa) "
        "ON CONFLICT DO NOTHING RETURNING topic, sequence",
        [list(c) for c in zip(*rows)],
    ).fetchall()
    return {(r["topic"], r["sequence"]) for r in found}


COPY_FROM = 64  # messages from which ``record_many`` sends them by binary COPY instead of one unnest's arrays
_STAGE = ("CREATE TEMP TABLE IF NOT EXISTS inbox_stage (topic text, sequence bigint, partition int, event_id text, "
          "type text, subject text, time timestamptz, effective_time timestamptz, envelope text, payload text, "
          "stage_n int) ON COMMIT DROP")
_STAGE_TYPES = ("text", "int8", "int4", "text", "text", "text", "timestamptz", "timestamptz", "text", "text", "int4")


def _copied(conn: psycopg.Connection, rows: list[tuple[Any, ...]]) -> set[tuple[str, int]]:
    """``record_many`` through a temporary table filled by binary COPY (formatted in C: 2,000 messages' ten
    columns cost a few milliseconds less of client CPU than the unnest's arrays, dumped element by element in
    Python), inserted in the poll's order by one statement that also empties it; dropped at commit."""
    conn.execute(_STAGE)
    with conn.cursor() as cur:
        with cur.copy(f"COPY inbox_stage ({', '.join(INBOX_COLUMNS)}, stage_n) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_STAGE_TYPES)
            write = copy.write_row
            for n, row in enumerate(rows):
                write((*row, n))
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(
            f"WITH staged AS (DELETE FROM inbox_stage RETURNING *) INSERT INTO inbox ({', '.join(INBOX_COLUMNS)}) "
            "SELECT topic, sequence, partition, event_id, type, subject, time, effective_time, envelope::jsonb, "
            "payload::jsonb FROM staged ORDER BY stage_n ON CONFLICT DO NOTHING RETURNING topic, sequence")
        return set(cur.fetchall())


def replay(
    conn: psycopg.Connection,
    *,
    before: datetime | None = None,
    effective_before: datetime | None = None,
    subject: str | None = None,
    batch: int = 5000,
) -> Iterator[Event]:
    """The inbox in topic order (every aggregate's events in their order), optionally cut at a time."""
    where, params = ["true"], []  # type: ignore[var-annotated]
    if before is not None:
        where.append("time < %s")
        params.append(before)
    if effective_before is not None:
        where.append("effective_time < %s")
        params.append(effective_before)
    if subject is not None:
        where.append("subject = %s")
        params.append(subject)
    contracts: dict[str, type[Contract] | None] = {}
    with conn.cursor(name=f"replay_{id(conn)}", row_factory=psycopg.rows.tuple_row) as cur:
        cur.itersize = batch
        cur.execute(
            "SELECT topic, partition, sequence, event_id, type, subject, time, envelope->>'actorrole', payload::text "
            f"FROM inbox WHERE {' AND '.join(where)} ORDER BY topic, sequence",
            params,
        )
        for topic, partition, sequence, event_id, type_, subject_, time_, role, payload in cur:
            if type_ not in contracts:
                contracts[type_] = contract_for_type(type_)
            contract = contracts[type_]
            if contract is None:
                continue
            yield Event(topic, partition, sequence, event_id, type_, subject_, time_, role or "",
                        contract.model_validate(orjson.loads(payload)))


def count(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) AS n FROM inbox").fetchone()["n"]  # type: ignore[index]


def positions(conn: psycopg.Connection, before: datetime | None = None) -> dict[str, Any]:
    """Per topic and per partition, the last sequence in the inbox (up to a time)."""
    where, params = ("WHERE time < %s", [before]) if before else ("", [])
    rows = conn.execute(
        f"SELECT topic, partition, max(sequence) AS sequence, max(time) AS event_time FROM inbox {where} "
        "GROUP BY topic, partition ORDER BY topic, partition",
        params,
    ).fetchall()
    return rows  # type: ignore[return-value]
