"""Event store wiring: each service's eventsourcing Application on its own PostgreSQL schema.

The events table is the outbox the relay follows. Consumers save their effects together with a
tracking record (consumer, topic, partition -> source sequence) in one transaction, which is what
makes their effects exactly-once.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Callable, ClassVar, Sequence, TypeVar

import psycopg
from psycopg import sql
from contextlib import contextmanager
from typing import Iterable, Iterator
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent, Repository, project_aggregate
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    JSONTranscoder,
    OperationalError,
    StoredEvent,
    Tracking,
    Transcoding,
)
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.utils import retry

from services.runtime.db import ddl_lock
from services.runtime.settings import ServiceSettings


class DateAsISO(Transcoding):
    """Stores ``datetime.date`` values as ISO strings."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class BatchProcessRecorder(PostgresProcessRecorder):
    """The process recorder that also inserts several tracking records (``trackings``) with the events: a
    consumer's batch spans several topic partitions and commits its position in each with its effects."""

    def _insert_events(self, curs: Any, stored_events: Any, **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        for tracking in kwargs.get("trackings") or ():
            self._insert_tracking(curs, tracking=tracking)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events_of(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """The stored events of many aggregates in one query (each in version order); an id without events is
        absent. Read like the library's ``select_events``: through the pool, from the same table."""
        statement = sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {schema}.{table} "
            "WHERE originator_id = ANY(%s::{id_type}[]) ORDER BY originator_id, originator_version"
        ).format(schema=sql.Identifier(self.datastore.schema), table=sql.Identifier(self.events_table_name),
                 id_type=sql.Identifier(self.datastore.originator_id_type))
        found: dict[UUID, list[StoredEvent]] = {}
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, ([str(i) for i in originator_ids],), prepare=True)
            for row in curs.fetchall():
                key = row["originator_id"]
                found.setdefault(key if isinstance(key, UUID) else UUID(key), []).append(StoredEvent(
                    originator_id=key, originator_version=row["originator_version"], topic=row["topic"],
                    state=bytes(row["state"])))
        return found


PolicyT = TypeVar("PolicyT", bound=Callable[..., Any])


def loads(ids: Callable[[Any], Iterable[UUID]]) -> Callable[[PolicyT], PolicyT]:
    """Declares beside a consumer's policy which aggregates it loads by id for a message (``ids(message)``): the
    ``EventSink`` reads those of a whole batch in one query before its policies run (``Batch.prefetch``). Naming
    more or fewer than the policy loads is safe: a missing one is read as usual, an extra one is read for nothing."""

    def declare(policy: PolicyT) -> PolicyT:
        policy.loads = ids  # type: ignore[attr-defined]
        return policy

    return declare


class BatchRepository(Repository):
    """A repository that, inside a consumer's batch, hands out the aggregates the batch has already changed
    (its unit of work): a policy must see what an earlier message of the same batch did. It also hands out, once
    each, the aggregates ``prefetch`` read for the batch in one query (and knows which of them do not exist)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unit_of_work: dict[Any, Any] | None = None
        self.prefetched: dict[UUID, Any] = {}  # id -> aggregate as stored, or None: known not to exist

    def get(self, aggregate_id: Any, *, version: int | None = None, **kwargs: Any) -> Any:
        if self.unit_of_work is not None and version is None:
            key = aggregate_id if isinstance(aggregate_id, UUID) else UUID(str(aggregate_id))
            if key in self.unit_of_work:
                return self.unit_of_work[key]
            if key in self.prefetched and "projector_func" not in kwargs:
                if self.prefetched[key] is None:
                    raise AggregateNotFoundError(f"Aggregate {aggregate_id!r} version None not found.")
                # handed out once: a policy may change it without saving it, so a later get reads the store again
                return self.prefetched.pop(key)
        return super().get(aggregate_id, version=version, **kwargs)

    def prefetch(self, aggregate_ids: Iterable[UUID]) -> None:
        """Reads these aggregates' events in one query and reconstructs them as ``get`` would; an id without events
        is remembered as missing. Version conflicts are still found when the batch is saved (a concurrent write
        takes the version the batch writes next). Does nothing on stores without the query (in memory) and where
        the application snapshots (``get`` starts from a snapshot there)."""
        assert self.unit_of_work is not None, "only inside a batch"
        ids = dict.fromkeys(i if isinstance(i, UUID) else UUID(str(i)) for i in aggregate_ids)
        wanted = [i for i in ids if i not in self.unit_of_work and i not in self.prefetched]
        recorder = self.event_store.recorder
        if not wanted or self.snapshot_store is not None or not isinstance(recorder, BatchProcessRecorder):
            return
        stored = recorder.select_events_of(wanted)
        to_domain_event = self.event_store.mapper.to_domain_event
        for aggregate_id in wanted:
            events = stored.get(aggregate_id)
            self.prefetched[aggregate_id] = project_aggregate(None, map(to_domain_event, events)) if events else None


class Batch:
    """The effects of many consumed messages, in the order they happened, saved in one transaction."""

    def __init__(self, repository: BatchRepository) -> None:
        self.repository = repository
        self.processing_event: ProcessingEvent = ProcessingEvent()
        self.trackings: dict[str, int] = {}

    def add(self, aggregates: Iterable[Aggregate | None], tracking: Tracking) -> None:
        changed = [a for a in aggregates if a is not None]
        self.processing_event.collect_events(*changed)  # takes their new events now: the order is kept
        assert self.repository.unit_of_work is not None
        for aggregate in changed:
            self.repository.unit_of_work[aggregate.id] = aggregate
        self.trackings[tracking.application_name] = max(tracking.notification_id,
                                                        self.trackings.get(tracking.application_name, 0))

    def prefetch(self, aggregate_ids: Iterable[UUID]) -> None:
        """Loads these aggregates for the batch's policies in one query (see ``BatchRepository.prefetch``)."""
        self.repository.prefetch(aggregate_ids)


class ServiceApplication(Application):
    """Base application of every service: process recorder (events + tracking), extra transcodings."""

    name = "Service"
    env: ClassVar[dict[str, str]] = {"PROCESS_RECORDER_TOPIC": "services.runtime.eventstore:BatchProcessRecorder"}
    metrics: ClassVar[Any] = None  # set once per process by the bootstrap (services.runtime.bootstrap)

    def _record(self, processing_event: ProcessingEvent) -> Any:
        recordings = super()._record(processing_event)
        if self.metrics is not None:
            counter = self.metrics.events_appended
            for recording in recordings:
                counter.labels(self.metrics.service, type(recording.domain_event).__qualname__).inc()
        return recordings

    def construct_recorder(self):  # type: ignore[override]
        return self.factory.process_recorder()

    def construct_repository(self) -> BatchRepository:  # type: ignore[override]
        plain = super().construct_repository()
        return BatchRepository(event_store=self.events, snapshot_store=self.snapshots, cache_maxsize=None,
                               fastforward=plain.fastforward, fastforward_skipping=plain.fastforward_skipping,
                               deepcopy_from_cache=plain.deepcopy_from_cache)

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        """A consumer's unit of work: policies run one after another and see each other's changes; ``save_batch``
        writes every event and every partition's position in one transaction. Nothing is saved on an error."""
        repository: BatchRepository = self.repository  # type: ignore[assignment]
        assert repository.unit_of_work is None, "batches do not nest"
        repository.unit_of_work, repository.prefetched = {}, {}
        try:
            yield Batch(repository)
        finally:
            repository.unit_of_work, repository.prefetched = None, {}

    def save_batch(self, batch: Batch) -> None:
        trackings = [Tracking(name, seq) for name, seq in batch.trackings.items()]
        if not isinstance(self.recorder, BatchProcessRecorder):  # in-memory stores (tests): not atomic, no matter
            if batch.processing_event.events:
                self._notify(self._record(batch.processing_event))
            for tracking in trackings:
                self.recorder.insert_tracking(tracking)  # type: ignore[attr-defined]
            return
        batch.processing_event.saved_kwargs["trackings"] = trackings
        self._notify(self._record(batch.processing_event))

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def save_tracked(self, *objs: Aggregate | None, tracking: Tracking | None) -> bool:
        """Saves aggregates and the consumer's position atomically; False if already applied."""
        processing_event: ProcessingEvent = ProcessingEvent(tracking=tracking)
        processing_event.collect_events(*objs)
        try:
            if processing_event.events:
                recordings = self._record(processing_event)
                self._notify(recordings)
            elif tracking is not None:
                self.recorder.insert_tracking(tracking)  # type: ignore[attr-defined]
        except IntegrityError:
            if tracking is not None and self.recorder.has_tracking_id(  # type: ignore[attr-defined]
                tracking.application_name, tracking.notification_id
            ):
                return False
            raise
        return True

    def last_tracked(self, name: str) -> int:
        """The last source sequence this consumer applied for one topic partition (0 if none)."""
        return self.recorder.max_tracking_id(name) or 0  # type: ignore[attr-defined]


def eventsourcing_env(settings: ServiceSettings, schema: str) -> dict[str, str]:
    """The eventsourcing environment for a service's event store in its own schema."""
    pg = settings.pg_params()
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": pg["dbname"],
        "POSTGRES_HOST": pg["host"],
        "POSTGRES_PORT": pg["port"],
        "POSTGRES_USER": pg["user"],
        "POSTGRES_PASSWORD": pg["password"],
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_POOL_SIZE": "1",  # connections kept open; more are opened on demand up to the overflow
        "POSTGRES_MAX_OVERFLOW": str(max(0, settings.db_pool_size - 1)),
        "POSTGRES_CONNECT_TIMEOUT": "10",
        # no check per connection checkout (a round trip before every read and write): the library retries each
        # recorder call on a broken connection (10 × 0.2 s), and the pool drops a connection that failed
        "POSTGRES_PRE_PING": "n",
        "POSTGRES_LOCK_TIMEOUT": "30",
        "CREATE_TABLE": "y",
    }
    if settings.cipher_key:
        env["CIPHER_TOPIC"] = "eventsourcing.cryptography:AESCipher"
        env["CIPHER_KEY"] = settings.cipher_key
    return env


def ensure_schema(database_url: str, schema: str) -> None:
    """Creates a service's schema if missing (the event store creates its tables inside it)."""
    with ddl_lock(database_url), psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


def build_application(app_cls: type[ServiceApplication], settings: ServiceSettings, schema: str) -> Any:
    """Constructs a service's event-sourced application on PostgreSQL."""
    ensure_schema(settings.database_url, schema)
    with ddl_lock(settings.database_url):  # the library creates its tables on construction
        return app_cls(env=eventsourcing_env(settings, schema))
