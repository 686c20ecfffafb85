"""A consumer's batch: a recorder that reads many aggregates in one query and writes several partitions' tracking
rows in the events' transaction, a repository that prefetches and snapshots, and the unit of work (``Batch``)."""

from __future__ import annotations

from typing import Any, Callable, Sequence, TypeVar

import structlog
from psycopg import sql
from psycopg.rows import tuple_row
from typing import Iterable
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent, Repository, project_aggregate
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    Notification,
    OperationalError,
    PersistenceError,
    StoredEvent,
    Tracking,
)
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.utils import retry

from services.runtime.batchrows import BatchRows, RowRef
from services.runtime.snapshots import ServiceSnapshot, StaleSnapshot

log = structlog.get_logger(__name__)


class BatchProcessRecorder(PostgresProcessRecorder):
    """The process recorder that also inserts several tracking records (``trackings``) with the events: a
    consumer's batch spans several topic partitions and commits its position in each with its effects."""

    def _insert_events(self, curs: Any, stored_events: Any, **kwargs: Any) -> None:
        fence = kwargs.get("fence")
        if fence is not None:  # a consumer's lease check, first in the transaction that commits its effects
            fence(curs)
        for write in kwargs.get("writes") or ():  # the batch's lookup rows (``batchrows``), after the fence
            write(curs)
        super()._insert_events(curs, stored_events, **kwargs)
        for tracking in kwargs.get("trackings") or ():
            self._insert_tracking(curs, tracking=tracking)

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        """The library's insert (table lock, NOTIFY, then one ``INSERT ... SELECT FROM unnest ... RETURNING
        notification_id``), the rows sent as four binary arrays instead of one array of the library's composite
        type: psycopg dumps a composite array as text in Python (an escape per field), about 4x the client CPU of
        binary arrays (41 → 11 µs an event, 500 a statement). Same table, same columns, same order of ids."""
        if self.datastore.enable_db_functions:  # pragma: no cover - not configured (eventsourcing_env)
            super()._insert_stored_events(curs, stored_events, **kwargs)
            return
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(self._insert_arrays_statement(), (
            self._originator_ids(e.originator_id for e in stored_events),
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        ), prepare=True)

    def _insert_arrays_statement(self) -> sql.Composed:
        statement = getattr(self, "_insert_arrays", None)
        if statement is None:
            statement = self._insert_arrays = sql.SQL(
                "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
                "SELECT * FROM unnest(%b::{id_type}[], %b::bigint[], %b::text[], %b::bytea[]) RETURNING notification_id"
            ).format(schema=sql.Identifier(self.datastore.schema), table=sql.Identifier(self.events_table_name),
                     id_type=sql.Identifier(self.datastore.originator_id_type))
        return statement

    def _originator_ids(self, ids: Iterable[Any]) -> list[Any]:
        """Ids as the binary dumper of the id column's type wants them (``uuid``: UUID objects, ``text``: str)."""
        if self.datastore.originator_id_type == "uuid":
            return [i if isinstance(i, UUID) else UUID(str(i)) for i in ids]
        return [str(i) for i in ids]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_notifications(self, start: int | None, limit: int, stop: int | None = None, topics: Sequence[str] = (),
                             *, inclusive_of_start: bool = True) -> list[Notification]:
        """The library's ``select_notifications`` (same rows, same order, equal notifications), read as binary
        tuples of the five columns and built without the frozen dataclass's ``__init__``: the relay read its batch
        in dictionaries, a hex-decoded ``bytea`` and a parsed ``uuid`` per row, a fifth of its time."""
        conditions, params = [], []
        if start is not None:
            conditions.append(sql.SQL("notification_id>=%s" if inclusive_of_start else "notification_id>%s"))
            params.append(start)
        if stop is not None:
            conditions.append(sql.SQL("notification_id<=%s"))
            params.append(stop)
        if topics:
            assert isinstance(topics, (tuple, list)), topics
            assert all(isinstance(t, str) for t in topics), topics
            conditions.append(sql.SQL("topic = ANY(%s)"))
            params.append(list(topics))
        params.append(limit)
        statement = sql.SQL("SELECT notification_id, originator_id, originator_version, topic, state FROM {}.{}{} "
                            "ORDER BY notification_id LIMIT %s").format(
            sql.Identifier(self.datastore.schema), sql.Identifier(self.events_table_name),
            sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL(""))
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as curs:
            curs.execute(statement, params, prepare=True)
            rows = curs.fetchall()
        new, out = object.__new__, []
        for notification_id, originator_id, originator_version, topic, state in rows:
            notification = new(Notification)
            notification.__dict__.update(originator_id=originator_id, originator_version=originator_version,
                                         topic=topic, state=state, id=notification_id)
            out.append(notification)
        return out

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events_of(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """The stored events of many aggregates in one query (each in version order); an id without events is
        absent. Read like the library's ``select_events``: through the pool, from the same table."""
        statement = sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {schema}.{table} "
            "WHERE originator_id = ANY(%b::{id_type}[]) ORDER BY originator_id, originator_version"
        ).format(schema=sql.Identifier(self.datastore.schema), table=sql.Identifier(self.events_table_name),
                 id_type=sql.Identifier(self.datastore.originator_id_type))
        found: dict[UUID, list[StoredEvent]] = {}
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (self._originator_ids(originator_ids),), prepare=True)  # binary: no escaping
            for row in curs.fetchall():
                key = row["originator_id"]
                found.setdefault(key if isinstance(key, UUID) else UUID(key), []).append(StoredEvent(
                    originator_id=key, originator_version=row["originator_version"], topic=row["topic"],
                    state=bytes(row["state"])))
        return found

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_snapshots_and_events_of(
        self, originator_ids: Sequence[UUID], snapshots_table: str
    ) -> tuple[dict[UUID, StoredEvent], dict[UUID, list[StoredEvent]]]:
        """For many aggregates in one query: the latest snapshot of each (from ``snapshots_table``, same schema) and
        its events after that snapshot's version (all of them where there is none). Index probes per id, never a
        scan of either table."""
        statement = sql.SQL(
            "WITH wanted AS (SELECT DISTINCT unnest(%s::{id_type}[]) AS originator_id), "
            "snap AS MATERIALIZED (SELECT s.* FROM wanted w CROSS JOIN LATERAL ("
            "  SELECT originator_id, originator_version, topic, state FROM {schema}.{snapshots} x "
            "  WHERE x.originator_id = w.originator_id ORDER BY x.originator_version DESC LIMIT 1) s) "
            "SELECT true AS is_snapshot, originator_id, originator_version, topic, state FROM snap "
            "UNION ALL "
            "SELECT false, e.originator_id, e.originator_version, e.topic, e.state "
            "FROM wanted w LEFT JOIN snap s ON s.originator_id = w.originator_id CROSS JOIN LATERAL ("
            "  SELECT originator_id, originator_version, topic, state FROM {schema}.{table} x "
            "  WHERE x.originator_id = w.originator_id AND x.originator_version > coalesce(s.originator_version, 0)) e "
            "ORDER BY 2, 1 DESC, 3"
        ).format(schema=sql.Identifier(self.datastore.schema), table=sql.Identifier(self.events_table_name),
                 snapshots=sql.Identifier(snapshots_table), id_type=sql.Identifier(self.datastore.originator_id_type))
        snapshots: dict[UUID, StoredEvent] = {}
        events: dict[UUID, list[StoredEvent]] = {}
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, ([str(i) for i in originator_ids],), prepare=True)
            for row in curs.fetchall():
                key = row["originator_id"]
                key = key if isinstance(key, UUID) else UUID(key)
                stored = StoredEvent(originator_id=key, originator_version=row["originator_version"], topic=row["topic"],
                                     state=bytes(row["state"]))
                if row["is_snapshot"]:
                    snapshots[key] = stored
                else:
                    events.setdefault(key, []).append(stored)
        return snapshots, events

    @retry((InterfaceError, OperationalError), max_attempts=3, wait=0.2)
    def replace_snapshots(self, snapshots_table: str, snapshots: Sequence[StoredEvent]) -> None:
        """Stores these snapshots and drops the older ones of the same aggregates, in one transaction (a snapshot is a
        cache: only the latest is read). One already stored at that version (a concurrent writer) is kept."""
        if not snapshots:
            return
        names = {"schema": sql.Identifier(self.datastore.schema), "snapshots": sql.Identifier(snapshots_table),
                 "id_type": sql.Identifier(self.datastore.originator_id_type)}
        insert = sql.SQL(
            "INSERT INTO {schema}.{snapshots} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%s::{id_type}[], %s::bigint[], %s::text[], %s::bytea[]) ON CONFLICT DO NOTHING"
        ).format(**names)
        prune = sql.SQL(
            "DELETE FROM {schema}.{snapshots} x USING unnest(%s::{id_type}[], %s::bigint[]) AS n(id, version) "
            "WHERE x.originator_id = n.id AND x.originator_version < n.version"
        ).format(**names)
        ids = [str(s.originator_id) for s in snapshots]
        versions = [s.originator_version for s in snapshots]
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            curs.execute(insert, (ids, versions, [s.topic for s in snapshots], [s.state for s in snapshots]))
            curs.execute(prune, (ids, versions))


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
        """Reads these aggregates in one query (``get_many``); an id without events is remembered as missing. Version
        conflicts are still found when the batch is saved (a concurrent write takes the version the batch writes
        next). Does nothing on stores without the query (in memory)."""
        assert self.unit_of_work is not None, "only inside a batch"
        ids = dict.fromkeys(i if isinstance(i, UUID) else UUID(str(i)) for i in aggregate_ids)
        wanted = [i for i in ids if i not in self.unit_of_work and i not in self.prefetched]
        if not wanted or not isinstance(self.event_store.recorder, BatchProcessRecorder):
            return
        found = self.get_many(wanted)
        for aggregate_id in wanted:
            self.prefetched[aggregate_id] = found.get(aggregate_id)

    def get_many(self, aggregate_ids: Iterable[UUID]) -> dict[UUID, Any]:
        """Many aggregates as ``get`` reconstructs them, in one query on PostgreSQL: each from its latest snapshot and
        the events after it (or all its events). A snapshot that cannot be used (written by another version of the
        class, unreadable) is ignored and those aggregates' events are read in full by one more query. Ids without
        events are left out. In memory: one ``get`` per id."""
        ids = list(dict.fromkeys(i if isinstance(i, UUID) else UUID(str(i)) for i in aggregate_ids))
        recorder = self.event_store.recorder
        if not ids:
            return {}
        if not isinstance(recorder, BatchProcessRecorder):
            found = {}
            for aggregate_id in ids:
                try:
                    found[aggregate_id] = self.get(aggregate_id)
                except AggregateNotFoundError:
                    pass
            return found
        to_domain_event = self.event_store.mapper.to_domain_event
        if self.snapshot_store is None:
            snapshots, events = {}, recorder.select_events_of(ids)
        else:
            snapshots, events = recorder.select_snapshots_and_events_of(ids, self.snapshots_table)
        aggregates: dict[UUID, Any] = {}
        unusable: list[UUID] = []
        for aggregate_id in ids:
            start = None
            if aggregate_id in snapshots:
                start = self._from_snapshot(snapshots[aggregate_id])
                if start is None:
                    unusable.append(aggregate_id)
                    continue
            aggregate = project_aggregate(start, map(to_domain_event, events.get(aggregate_id, ())))
            if aggregate is not None:
                aggregates[aggregate_id] = aggregate
        if unusable:
            everything = recorder.select_events_of(unusable)
            for aggregate_id in unusable:
                aggregate = project_aggregate(None, map(to_domain_event, everything.get(aggregate_id, ())))
                if aggregate is not None:
                    aggregates[aggregate_id] = aggregate
        return aggregates

    @property
    def snapshots_table(self) -> str:
        assert self.snapshot_store is not None
        return self.snapshot_store.recorder.events_table_name  # type: ignore[attr-defined]

    def _from_snapshot(self, stored: StoredEvent) -> Any:
        """The aggregate a stored snapshot holds, or None when it cannot be used (then the events are replayed)."""
        try:
            return self.event_store.mapper.to_domain_event(stored).mutate(None)
        except StaleSnapshot:
            return None
        except PersistenceError:
            raise
        except Exception as exc:  # noqa: BLE001 - a cache entry that cannot be read is skipped, the events are the record
            log.warning("snapshot_unreadable", originator_id=str(stored.originator_id),
                        version=stored.originator_version, topic=stored.topic, error=repr(exc))
            return None

    def _reconstruct_aggregate(self, aggregate_id: Any, version: int | None, projector_func: Any) -> Any:
        """The library's (latest snapshot, then the events after it), falling back to every event when the snapshot
        cannot be used."""
        if self.snapshot_store is None:
            return super()._reconstruct_aggregate(aggregate_id, version, projector_func)
        try:
            return super()._reconstruct_aggregate(aggregate_id, version, projector_func)
        except (AggregateNotFoundError, PersistenceError):
            raise
        except Exception as exc:  # noqa: BLE001 - see _from_snapshot
            if not isinstance(exc, StaleSnapshot):
                log.warning("snapshot_unreadable", originator_id=str(aggregate_id), error=repr(exc))
        aggregate = projector_func(None, self.event_store.get(originator_id=aggregate_id, lte=version))
        if aggregate is None:
            raise AggregateNotFoundError(f"Aggregate {aggregate_id!r} version {version!r} not found.")
        return aggregate

    def put_snapshots(self, aggregates: Sequence[Aggregate]) -> int:
        """Snapshots of these aggregates as they are in memory (just saved), in one statement; returns how many.
        Never fails the caller: the events are saved, a missing snapshot only means a longer replay."""
        if self.snapshot_store is None or not aggregates:
            return 0
        stored = []
        to_stored_event = self.snapshot_store.mapper.to_stored_event
        for aggregate in aggregates:
            try:
                stored.append(to_stored_event(ServiceSnapshot.take(aggregate)))
            except Exception as exc:  # noqa: BLE001 - an aggregate whose state cannot be stored is replayed instead
                log.warning("snapshot_not_taken", originator_id=str(aggregate.id), error=repr(exc))
        try:
            recorder = self.event_store.recorder
            if isinstance(recorder, BatchProcessRecorder):
                recorder.replace_snapshots(self.snapshots_table, stored)
            else:
                for one in stored:
                    try:
                        self.snapshot_store.recorder.insert_events([one])
                    except IntegrityError:
                        pass
        except PersistenceError as exc:
            log.warning("snapshots_not_saved", count=len(stored), error=repr(exc))
            return 0
        return len(stored)


class Batch:
    """The effects of many consumed messages, in the order they happened, saved in one transaction."""

    def __init__(self, repository: BatchRepository, tables: Iterable[BatchRows[Any]] = ()) -> None:
        self.repository = repository
        self.tables = {table.table: table for table in tables}  # lookup rows the batch writes beside its events
        self.processing_event: ProcessingEvent = ProcessingEvent()
        self.trackings: dict[str, int] = {}

    def add(self, aggregates: Iterable[Aggregate | None], tracking: Tracking | None) -> None:
        """Collects these aggregates' new events; ``tracking`` None: effects that move no position (a replay)."""
        changed = [a for a in aggregates if a is not None]
        # takes their new events now: the order is kept (what ``ProcessingEvent.collect_events`` does for
        # aggregates, without its isinstance checks against runtime-checkable protocols: ~10 µs an aggregate)
        events, collected = self.processing_event.events, self.processing_event.aggregates
        for aggregate in changed:
            if isinstance(aggregate, Aggregate):
                events.extend(aggregate.collect_events())
                collected[aggregate.id] = aggregate
            else:  # anything else (a domain event, another kind of aggregate): as the library collects it
                self.processing_event.collect_events(aggregate)
        assert self.repository.unit_of_work is not None
        for aggregate in changed:
            self.repository.unit_of_work[aggregate.id] = aggregate
        if tracking is not None:
            self.trackings[tracking.application_name] = max(tracking.notification_id,
                                                            self.trackings.get(tracking.application_name, 0))

    def prefetch(self, ids: Iterable[UUID | RowRef]) -> None:
        """Loads these aggregates for the batch's policies in one query (see ``BatchRepository.prefetch``), and the
        lookup rows named among them (``RowRef``) in one query per table (with the legacy aggregates of rows the
        table lacks among the aggregates)."""
        aggregate_ids: list[Any] = []
        rows: dict[str, list[str]] = {}
        for one in ids:
            if type(one) is RowRef:
                rows.setdefault(one.table, []).append(one.key)
            else:
                aggregate_ids.append(one)
        for table, keys in rows.items():
            aggregate_ids.extend(self.tables[table].prefetch(keys))
        self.repository.prefetch(aggregate_ids)
        for table in rows:
            self.tables[table].settle(self.repository.prefetched)

    def writes(self) -> list[Callable[[Any], None]]:
        """What the batch's lookup tables write in the events' transaction (those with changed rows)."""
        return [table.write for table in self.tables.values() if table.dirty]
