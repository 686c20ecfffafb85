"""Event store wiring: each service's eventsourcing Application on its own PostgreSQL schema.

The events table is the outbox the relay follows. Consumers save their effects together with a
tracking record (consumer, topic, partition -> source sequence) in one transaction, which is what
makes their effects exactly-once.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any, ClassVar

import psycopg
import structlog
from psycopg import sql
import os
from contextlib import contextmanager
from typing import Iterable, Iterator

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.utils import Environment
from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    JSONTranscoder,
    Tracking,
    Transcoding,
)

from services.runtime.batchrows import BatchRows, RowRef
from services.runtime.batchstore import Batch, BatchProcessRecorder, BatchRepository, loads
from services.runtime import tracing
from services.runtime.transcoding import FastJSONTranscoder
from services.runtime import db
from services.runtime.db import ddl_lock
from services.runtime.settings import ServiceSettings

__all__ = ["Batch", "BatchProcessRecorder", "BatchRepository", "BatchRows", "RowRef", "ServiceApplication", "build_application",
           "loads"]

log = structlog.get_logger(__name__)


class DateAsISO(Transcoding):
    """Stores ``datetime.date`` values as ISO strings."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class ServiceApplication(Application):
    """Base application of every service: process recorder (events + tracking), extra transcodings."""

    name = "Service"
    env: ClassVar[dict[str, str]] = {"PROCESS_RECORDER_TOPIC": "services.runtime.eventstore:BatchProcessRecorder"}
    metrics: ClassVar[Any] = None  # set once per process by the bootstrap (services.runtime.bootstrap)
    # aggregate class -> events between snapshots; an application sets it (from its settings) and enables the
    # snapshot store (``is_snapshotting_enabled``). The library's own ``snapshotting_intervals`` would re-read each
    # aggregate and insert its snapshot one by one after every save.
    snapshot_intervals: dict[type, int] = {}
    # lookup tables its consumer's batches write beside the events (``batchrows.BatchRows``); set in ``__init__``
    lookups: tuple[BatchRows[Any], ...] = ()

    def _take_snapshots(self, processing_event: ProcessingEvent) -> None:
        """After a save: a snapshot of every saved aggregate whose new events crossed a multiple of its interval."""
        intervals = self.snapshot_intervals
        if self.snapshots is None or not intervals:
            return
        new = Counter(e.originator_id for e in processing_event.events)
        due = []
        for aggregate_id, aggregate in processing_event.aggregates.items():
            every = intervals.get(type(aggregate))
            if every and aggregate.version // every > (aggregate.version - new[aggregate_id]) // every:
                due.append(aggregate)
        self.repository.put_snapshots(due)  # type: ignore[attr-defined]

    def _record(self, processing_event: ProcessingEvent) -> Any:
        with tracing.append_span(self.name, processing_event.events):
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
        tables = self.lookups
        for table in tables:
            table.begin()
        try:
            yield Batch(repository, tables)
        finally:
            repository.unit_of_work, repository.prefetched = None, {}
            for table in tables:
                table.end()

    def save_batch(self, batch: Batch) -> None:
        trackings = [Tracking(name, seq) for name, seq in batch.trackings.items()]
        writes = batch.writes()
        if not isinstance(self.recorder, BatchProcessRecorder):  # in-memory stores (tests): not atomic, no matter
            if batch.processing_event.events:
                self._notify(self._record(batch.processing_event))
            for tracking in trackings:
                self.recorder.insert_tracking(tracking)  # type: ignore[attr-defined]
            for write in writes:
                write(None)
            return
        batch.processing_event.saved_kwargs["trackings"] = trackings
        if writes:
            batch.processing_event.saved_kwargs["writes"] = writes
        self._notify(self._record(batch.processing_event))

    def construct_transcoder(self) -> FastJSONTranscoder:  # type: ignore[override]
        """The library's JSON transcoder, decoding with orjson (``transcoding.py``: equal results)."""
        transcoder = FastJSONTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

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
        # the library's DDL runs only for a store not built yet (``build_application``, ``create_stores``)
        "CREATE_TABLE": "n",
    }
    if settings.cipher_key:
        env["CIPHER_TOPIC"] = "eventsourcing.cryptography:AESCipher"
        env["CIPHER_KEY"] = settings.cipher_key
    return env


def ensure_schema(database_url: str, schema: str) -> None:
    """Creates a service's schema if missing (the event store creates its tables inside it)."""
    db.ensure_schema(database_url, schema)


def _store_tables(recorder: Any) -> list[str]:
    """The tables one of the library's recorders writes (events or snapshots, and a process recorder's tracking)."""
    return [name for name in (getattr(recorder, "events_table_name", None),
                              getattr(recorder, "tracking_table_name", None)) if name]


def _store_ready(conn: psycopg.Connection, schema: str, recorder: Any) -> bool:
    """Whether the library's DDL already ran for this recorder: its tables are there, and a tracking table carries
    the library's own migration mark (a tracking table from before it would be converted by ``create_table``)."""
    for table in _store_tables(recorder):
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}"."{table}"',)).fetchone()
        if not (row and row[0]):
            return False
    tracking = getattr(recorder, "tracking_table_name", None)
    if tracking and getattr(recorder.datastore, "single_row_tracking", False):
        mark = conn.execute(sql.SQL("SELECT 1 FROM {}.{} WHERE application_name = %s").format(
            sql.Identifier(schema), sql.Identifier(tracking)), (recorder.table_migration_identifier,)).fetchone()
        return mark is not None
    return True


def _build_missing(url: str, schema: str, recorders: list[Any]) -> bool:
    """Runs the library's DDL (``create_table``, idempotent) for the recorders whose store is not complete, under
    the DDL lock; True when any was."""
    with psycopg.connect(url, autocommit=True) as conn:
        missing = [r for r in recorders if not _store_ready(conn, schema, r)]
    if missing:
        with ddl_lock(url):
            for recorder in missing:
                recorder.create_table()
    return bool(missing)


def create_stores(settings: ServiceSettings, schema: str, app_classes: Iterable[type[ServiceApplication]]) -> list[str]:
    """The migrate Job's part for the event stores: runs the library's own DDL (tables, composite type, function,
    tracking mark) for each application class's store that is not complete yet, under the DDL lock, without
    constructing the applications (their constructors want the service's adapters). Returns the stores created.
    The library owns this DDL (and converts its own tables between its versions), so it is not frozen in a
    revision; with it run here, service processes never need CREATE (``build_application`` then runs none)."""
    ensure_schema(settings.database_url, schema)
    created = []
    for app_cls in app_classes:
        values = dict(app_cls.env)  # as ``Application.construct_env`` builds it, with the service's settings
        if app_cls.is_snapshotting_enabled or app_cls.snapshotting_intervals:
            values["IS_SNAPSHOTTING_ENABLED"] = "y"
        values.update(os.environ)
        values.update(eventsourcing_env(settings, schema))
        factory = InfrastructureFactory.construct(Environment(app_cls.name, values))
        try:
            recorders = [factory.process_recorder()]
            if factory.is_snapshotting_enabled():
                recorders.append(factory.aggregate_recorder("snapshots"))
            if _build_missing(settings.database_url, schema, recorders):
                created.append(app_cls.name)
        finally:
            factory.close()
    return created


def build_application(app_cls: type[ServiceApplication], settings: ServiceSettings, schema: str) -> Any:
    """Constructs a service's event-sourced application on PostgreSQL. The library's own DDL (its tables, type,
    function) runs only for a store whose tables are not there yet, under the DDL lock; a process on a database
    where they are runs no CREATE (services/runtime/README.md, *Schema migrations*)."""
    ensure_schema(settings.database_url, schema)
    app = app_cls(env=eventsourcing_env(settings, schema))
    _build_missing(settings.database_url, schema,
                   [app.recorder] + ([app.snapshots.recorder] if app.snapshots is not None else []))
    for table in app.lookups:  # only on a schema no migration owns (a test's scratch schema)
        table.ensure()
    return app
