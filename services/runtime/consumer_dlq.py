"""Dead letters of a consumer: recorded once in the service's PostgreSQL, mirrored to ``baoxue.dlq.<consumer>``.

A poison message is recorded in ``consumer_dead_letters`` by its identity — ``<topic>#<sequence>`` (the relay's
sequence, the same on every copy and every refill), or, for a message without a readable envelope,
``<topic>/<partition>/<offset>@<cluster id>`` — in the same fenced transaction that moves its partition's position
past it (``Sink.skip(..., also=letter.write)``). A member whose lease moved before that commit commits neither, and
the identity is unique, so a message is dead-lettered once however often it is read. After the commit the letter
is produced to the dead-letter topic (reason and error in headers); a letter the broker did not take is produced
again later (``publish_pending``). ``replay`` applies a letter through the consumer's own policy in one transaction
that also marks it replayed (``baoxue deadletters``; services/runtime/README.md, *Dead letters*).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import psycopg
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient
from eventsourcing.persistence import IntegrityError as ConcurrencyError
from psycopg import sql
from pydantic import ValidationError

from contracts import Envelope, contract_for_type, topics
from services.runtime import logging as rlog
from services.runtime.consumer_leases import LEASES_DDL
from services.runtime.consumer_messages import RETRYABLE, Message, TransientError
from services.runtime.consumer_sinks import EventSink, ProjectionSink
from services.runtime.db import Database
from services.runtime.kafka import REPLACED_ON_LOSS, decode, ensure_topics
from services.runtime.metrics import Metrics

DEAD_LETTERS_DDL = """
CREATE TABLE IF NOT EXISTS consumer_dead_letters (
    id bigserial PRIMARY KEY,
    consumer text NOT NULL,
    identity text NOT NULL,
    topic text NOT NULL,
    partition int NOT NULL,
    "offset" bigint NOT NULL,
    sequence bigint,
    event_type text,
    subject text,
    reason text NOT NULL,
    error text NOT NULL,
    message_key bytea,
    message_value bytea,
    header_names text[] NOT NULL,
    header_values bytea[] NOT NULL,
    status text NOT NULL DEFAULT 'dead' CHECK (status IN ('dead', 'replayed')),
    replay_attempts int NOT NULL DEFAULT 0,
    dead_lettered_at timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz,
    replayed_at timestamptz,
    published boolean NOT NULL DEFAULT false,
    UNIQUE (consumer, identity)
);
CREATE INDEX IF NOT EXISTS consumer_dead_letters_unpublished ON consumer_dead_letters (consumer) WHERE NOT published;
"""

PUBLISH_RETRY_S = 5.0  # a mirror the broker did not take is produced again this much later, at the earliest
COLUMNS = ("id, consumer, identity, topic, partition, \"offset\", sequence, event_type, subject, reason, error, "
           "status, replay_attempts, dead_lettered_at, last_attempt_at, replayed_at, published")


def validation_text(exc: BaseException) -> str:
    """A payload's validation error without the values it refused (they may be a child's name or ID number)."""
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
                 for e in exc.errors(include_input=False, include_url=False)]
        return f"{exc.error_count()} validation error(s) for {exc.title}: " + "; ".join(parts)
    return type(exc).__name__


def _one(row: Any, name: str, index: int = 0) -> Any:
    return row[name] if isinstance(row, dict) else row[index]


class Letter:
    """One poison message about to be recorded: ``write(cursor)`` runs inside the transaction that skips it."""

    def __init__(self, store: "DeadLetters", msg: Any, reason: str, error: str, sequence: int | None,
                 cluster_id: str | None) -> None:
        self.store, self.reason, self.error = store, reason, error[:2000]
        self.topic, self.partition, self.offset = msg.topic(), msg.partition(), msg.offset()
        self.key, self.value = msg.key(), msg.value()
        self.headers = list(msg.headers() or [])
        self.sequence = sequence
        h = dict(self.headers)
        self.event_type = _text(h.get("ce_type")) if sequence is not None else None
        self.subject = _text(h.get("ce_subject")) if sequence is not None else None
        self.identity = (f"{self.topic}#{sequence}" if sequence is not None
                         else f"{self.topic}/{self.partition}/{self.offset}@{cluster_id or ''}")
        self.id: int | None = None  # set when this write inserted the letter (None: it was recorded before)

    @property
    def source(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    def write(self, cursor: Any) -> None:
        row = cursor.execute(self.store.insert_sql, (
            self.store.name, self.identity, self.topic, self.partition, self.offset, self.sequence, self.event_type,
            self.subject, self.reason, self.error, self.key, self.value, [k for k, _ in self.headers],
            [v for _, v in self.headers])).fetchone()
        self.id = _one(row, "id") if row is not None else None


def _text(value: bytes | None) -> str | None:
    return value.decode(errors="replace")[:200] if value is not None else None


class DeadLetters:
    """A consumer's dead letters: the table (the record) and an idempotent producer for ``baoxue.dlq.<consumer>``
    (the mirror; rebuilt when the broker changed)."""

    def __init__(self, *, service: str, name: str, bootstrap: str, partitions: int, metrics: Metrics,
                 log: Any, db: Database, replication_factor: int = 1) -> None:
        self.service, self.name, self.bootstrap, self.partitions = service, name, bootstrap, partitions
        self.replication_factor = replication_factor
        self.metrics, self.log, self.db = metrics, log, db
        self.topic = topics.dead_letter(name)
        self.table = sql.Identifier(db.schema, "consumer_dead_letters")
        self.insert_sql = sql.SQL(
            "INSERT INTO {} (consumer, identity, topic, partition, \"offset\", sequence, event_type, subject, reason, "
            "error, message_key, message_value, header_names, header_values) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (consumer, identity) DO NOTHING "
            "RETURNING id").format(self.table)
        db.ensure_tables(DEAD_LETTERS_DDL)
        # made when first needed, after the broker answered; discarded with its consumer when the broker was lost
        # (``reset``), so it never lives through a broker that lost its data (kafka.REPLACED_ON_LOSS)
        self.producer: Producer | None = None
        self._unpublished = True  # a process before this one may have recorded letters it could not publish
        self._retry_at = 0.0  # after a failed publication: not again before this (the loop keeps consuming)

    def _new_producer(self) -> Producer:
        return Producer(
            {"bootstrap.servers": self.bootstrap, "enable.idempotence": True, "acks": "all", "message.timeout.ms": 15000,
             **REPLACED_ON_LOSS}
        )

    def reset(self) -> None:
        """Discards the producer (a new one is made at the next publication)."""
        if self.producer is not None:
            try:
                self.producer.purge()
                self.producer.flush(0)
            except Exception:  # noqa: BLE001 - the old producer is being discarded anyway
                pass
            self.producer = None
        self._unpublished = True  # a broker that lost its data lost the mirror too: what is unpublished goes again

    def letter(self, msg: Any, reason: str, error: str, *, sequence: int | None = None,
               cluster_id: str | None = None) -> Letter:
        return Letter(self, msg, reason, error, sequence, cluster_id)

    def record(self, letter: Letter, fence: Callable[[Any, list[str]], None] | None, track: str) -> None:
        """Records a letter whose message moves no position (no readable envelope), fenced by its partition."""
        with self.db.transaction() as conn:
            if fence is not None:
                fence(conn, [track])
            letter.write(conn)

    def recorded(self, letter: Letter) -> None:
        """After the letter's transaction committed: counted and logged once (by whoever inserted it), then
        mirrored to the dead-letter topic."""
        if letter.id is None:
            return  # recorded before (another replica, an earlier read): nothing new
        self.metrics.dead_lettered.labels(self.service, self.name, letter.reason).inc()
        self.log.error("message_dead_lettered", reason=letter.reason, error=letter.error[:500], source=letter.source,
                       dead_letter_id=letter.id, sequence=letter.sequence)
        self._unpublished = True
        self.publish_pending()

    def publish_pending(self) -> None:
        """Produces the letters not yet on the dead-letter topic (best effort: a broker away is tried again at the
        next letter or metadata check). Rows are locked while produced, so two replicas never both send one."""
        if not self._unpublished or time.monotonic() < self._retry_at:
            return
        try:
            with self.db.transaction() as conn:
                rows = conn.execute(sql.SQL(
                    "SELECT id, topic, partition, \"offset\", reason, error, message_key, message_value, header_names, "
                    "header_values FROM {} WHERE consumer = %s AND NOT published ORDER BY id LIMIT 100 "
                    "FOR UPDATE SKIP LOCKED").format(self.table), (self.name,)).fetchall()
                if rows:
                    self._produce(rows)
                    conn.execute(sql.SQL("UPDATE {} SET published = true WHERE id = ANY(%s)").format(self.table),
                                 ([r["id"] for r in rows],))
            self._unpublished = len(rows) == 100
        except (TransientError, KafkaException, psycopg.Error) as exc:
            self._retry_at = time.monotonic() + PUBLISH_RETRY_S
            self.log.warning("dead_letter_publish_failed", error=rlog.error_text(exc), retry_in_s=PUBLISH_RETRY_S)

    def _produce(self, rows: list[dict[str, Any]]) -> None:
        # the topic may be gone (a broker that lost its data): produced to as it is, the broker would create it
        # with its own partition count; dead letters are rare, so each publication checks
        try:
            ensure_topics(AdminClient({"bootstrap.servers": self.bootstrap}), [self.topic], self.partitions,
                          replication_factor=self.replication_factor)
        except KafkaException as exc:
            raise TransientError(f"dead-letter topic unavailable: {exc}") from exc
        if self.producer is None:
            self.producer = self._new_producer()
        errors: list[Any] = []
        for r in rows:
            values = (bytes(v) if v is not None else None for v in r["header_values"])  # a header may have none
            headers = list(zip(r["header_names"], values)) + [
                ("dlq_consumer", self.name.encode()),
                ("dlq_reason", r["reason"].encode()),
                ("dlq_error", r["error"].encode()),
                ("dlq_source", f"{r['topic']}/{r['partition']}/{r['offset']}".encode()),
                ("dlq_id", str(r["id"]).encode()),
            ]
            key = bytes(r["message_key"]) if r["message_key"] is not None else None
            value = bytes(r["message_value"]) if r["message_value"] is not None else None
            self.producer.produce(self.topic, key=key, value=value, headers=headers,
                                  on_delivery=lambda err, _m: errors.append(err) if err is not None else None)
        if self.producer.flush(20) or errors:
            self.reset()  # its producer id may belong to a broker that lost its data
            raise TransientError("dead-letter topic unavailable")


# -- reading and replaying (the ``baoxue deadletters`` command) --------------------------------------------


@dataclass(frozen=True)
class Outcome:
    id: int
    outcome: str  # replayed | already_replayed | failed | missing
    error: str | None = None


class Replay:
    """Applies dead letters again through a consumer's own policies and sink, each in one transaction that also
    marks it replayed (so at most once: a replay of a replayed letter does nothing). The transaction first locks
    the lease row of the letter's partition (``FOR UPDATE``): a member's effect transaction on that partition in
    flight finishes first, and the next one waits (its fence reads the row ``FOR KEY SHARE``), so a replay commits
    between two of the partition's batches, never beside one. The position is not moved (it is past the message).
    A replay that fails again leaves the letter dead with the new error (and one more attempt counted)."""

    def __init__(self, *, db: Database, consumer: str, policies: dict[type, Any], sink: Any, log: Any) -> None:
        self.db, self.consumer, self.sink, self.log = db, consumer, sink, log
        self.policies = {c.ce_type(): p for c, p in policies.items()}
        db.ensure_tables(DEAD_LETTERS_DDL + LEASES_DDL)  # the lease rows it locks (none yet: the consumer never ran)
        self.table = sql.Identifier(db.schema, "consumer_dead_letters")
        self.leases = sql.Identifier(db.schema, "consumer_leases")

    def ids(self, *, only_dead: bool = True) -> list[int]:
        with self.db.transaction() as conn:
            return [r["id"] for r in conn.execute(sql.SQL(
                "SELECT id FROM {} WHERE consumer = %s AND (status = 'dead' OR NOT %s) ORDER BY id").format(self.table),
                (self.consumer, only_dead)).fetchall()]

    def replay_all(self) -> list[Outcome]:
        return [self.replay(i) for i in self.ids()]

    def _message(self, row: dict[str, Any]) -> tuple[Any, Message]:
        """The letter as the consumer would hand it to its policy (raises as the consumer did, if it still would)."""
        headers = list(zip(row["header_names"], (bytes(v) if v is not None else None for v in row["header_values"])))
        key = bytes(row["message_key"]) if row["message_key"] is not None else None
        envelope, data = decode(headers, key, bytes(row["message_value"]) if row["message_value"] is not None else None)
        assert isinstance(envelope, Envelope)
        policy = self.policies.get(envelope.type)
        contract = contract_for_type(envelope.type)
        if policy is None or contract is None:
            raise LookupError(f"consumer {self.consumer} has no policy for {envelope.type}")
        try:
            payload = contract.model_validate(data)
        except ValidationError as exc:
            raise ValueError(validation_text(exc)) from None
        return policy, Message(envelope, payload)

    def _claim(self, cursor: Any, letter_id: int) -> bool:
        """Inside the replay's transaction: the partition's lease row, then the letter, locked; False if the letter
        was replayed meanwhile."""
        row = cursor.execute(sql.SQL("SELECT topic, partition, status FROM {} WHERE id = %s AND consumer = %s "
                                     "FOR UPDATE").format(self.table), (letter_id, self.consumer)).fetchone()
        if row is None or _one(row, "status", 2) != "dead":
            return False
        cursor.execute(sql.SQL("SELECT 1 FROM {} WHERE consumer = %s AND topic = %s AND partition = %s FOR UPDATE")
                       .format(self.leases), (self.consumer, _one(row, "topic", 0), _one(row, "partition", 1)))
        cursor.execute(sql.SQL("UPDATE {} SET status = 'replayed', replayed_at = now(), last_attempt_at = now(), "
                               "replay_attempts = replay_attempts + 1 WHERE id = %s").format(self.table), (letter_id,))
        return True

    def replay(self, letter_id: int, attempts: int = 5) -> Outcome:
        with self.db.transaction() as conn:
            row = conn.execute(sql.SQL("SELECT * FROM {} WHERE id = %s AND consumer = %s").format(self.table),
                               (letter_id, self.consumer)).fetchone()
        if row is None:
            return Outcome(letter_id, "missing")
        if row["status"] == "replayed":
            return Outcome(letter_id, "already_replayed")
        error: str | None = None
        for _attempt in range(attempts):
            try:
                policy, message = self._message(row)
                done = self._apply(letter_id, policy, message)
                if not done:
                    return Outcome(letter_id, "already_replayed")
                self.log.info("dead_letter_replayed", consumer=self.consumer, dead_letter_id=letter_id)
                return Outcome(letter_id, "replayed")
            except _AlreadyReplayed:
                return Outcome(letter_id, "already_replayed")
            except (ConcurrencyError, *RETRYABLE) as exc:  # a write that came in between: read and apply again
                error = rlog.error_text(exc, 500)
                continue
            except Exception as exc:  # noqa: BLE001 - the letter stays dead with what went wrong now
                error = str(exc) if isinstance(exc, (LookupError, ValueError)) and not isinstance(
                    exc, ValidationError) else rlog.error_text(exc, 500)
                break
        with self.db.transaction() as conn:
            conn.execute(sql.SQL("UPDATE {} SET error = %s, replay_attempts = replay_attempts + 1, "
                                 "last_attempt_at = now() WHERE id = %s AND status = 'dead'").format(self.table),
                         ((error or "failed")[:2000], letter_id))
        self.log.warning("dead_letter_replay_failed", consumer=self.consumer, dead_letter_id=letter_id,
                         error=(error or "")[:500])
        return Outcome(letter_id, "failed", error)

    def _apply(self, letter_id: int, policy: Any, message: Message) -> bool:
        if isinstance(self.sink, ProjectionSink):
            with self.db.transaction() as conn, self.sink.scope(conn):
                if not self._claim(conn, letter_id):
                    return False
                if self.sink.prepare is not None:
                    self.sink.prepare(conn, [message])
                policy(message, conn)
            return True
        if isinstance(self.sink, EventSink):
            app = self.sink.app
            with app.batch() as batch:
                batch.prefetch(EventSink._loads(policy, message))
                batch.add(policy(message) or (), None)

                def claim(cursor: Any) -> None:
                    if not self._claim(cursor, letter_id):
                        raise _AlreadyReplayed()

                batch.processing_event.saved_kwargs["fence"] = claim
                app.save_batch(batch)
            return True
        raise TypeError(f"cannot replay through {type(self.sink).__name__}")


class _AlreadyReplayed(Exception):
    """Raised inside an event-store transaction to roll it back: the letter was replayed meanwhile."""


def letter_rows(db: Database, consumers: Iterable[str] | None = None, limit: int = 200,
                only_dead: bool = True) -> list[dict[str, Any]]:
    """Dead letters as ``baoxue deadletters list`` shows them (no message payloads), newest first; none where no
    consumer of the schema ever ran (nothing is created)."""
    names = list(consumers) if consumers is not None else None
    with db.transaction() as conn:
        there = conn.execute("SELECT to_regclass(%s) AS t", (f'"{db.schema}".consumer_dead_letters',)).fetchone()
        if there is None or there["t"] is None:
            return []
        return list(conn.execute(sql.SQL(
            f"SELECT {COLUMNS} FROM {{}} WHERE (%s::text[] IS NULL OR consumer = ANY(%s)) AND (status = 'dead' OR NOT %s) "
            "ORDER BY id DESC LIMIT %s").format(sql.Identifier(db.schema, "consumer_dead_letters")),
            (names, names, only_dead, limit)).fetchall())
