"""Batched event writes for imports: thousands of events per insert transaction, encoded off the hot path.

eventsourcing takes an exclusive table lock per insert transaction, so one event per call tops out near
1,000 events/s; a few thousand per call reach tens of thousands. On PostgreSQL a batch is written with COPY
inside the library's own insert protocol (the same EXCLUSIVE table lock held to commit, so notification
ids still commit in order, the same NOTIFY, the same unique (originator_id, version) constraint). New aggregates' creation events are
encoded directly in the library's stored form (the same JSON its transcoder writes, then its compressor
and cipher when configured; a test checks the two encodings agree), and the next batch is encoded while
the previous one is being written.
"""

from __future__ import annotations

import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime, timezone
from typing import Any

import orjson
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from psycopg import sql

from services.registry.adapters.sealing import seals


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"_type_": "datetime_iso", "_data_": value.isoformat()}
    if isinstance(value, date):
        return {"_type_": "date_iso", "_data_": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"_type_": "uuid_hex", "_data_": value.hex}
    raise TypeError(f"cannot encode {type(value).__name__}")


def _wrap_dates(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: (_default(v) if isinstance(v, (date, datetime, uuid.UUID)) else v) for k, v in fields.items()}


class BulkWriter:
    """Collects stored events and writes them in large batches; `close()` waits for the last write."""

    def __init__(self, app: Any, batch_size: int = 5000) -> None:
        self.app = app
        self.batch_size = batch_size
        self.pending: list[StoredEvent] = []
        self.written = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulk-writer")
        self._inflight: Future[Any] | None = None
        self._now = datetime.now(timezone.utc)

    def created(self, cls: type[Aggregate], created_event: type, originator_id: uuid.UUID,
                fields: dict[str, Any]) -> None:
        """A new aggregate's creation event, encoded directly (no aggregate object is built)."""
        mapper = self.app.mapper
        sealer = getattr(mapper, "sealer", None)
        topic = get_topic(created_event)
        if sealer is not None and seals(topic, fields):  # personal fields sealed with the aggregate's new DEK
            fields = sealer.seal(originator_id, topic, fields, defer=True)
        state = {"timestamp": _default(self._now), "originator_topic": get_topic(cls), **_wrap_dates(fields)}
        data = orjson.dumps(state, default=_default)
        if mapper.compressor:
            data = mapper.compressor.compress(data)
        if mapper.cipher:
            data = mapper.cipher.encrypt(data)
        self.pending.append(StoredEvent(originator_id=originator_id, originator_version=1,
                                        topic=get_topic(created_event), state=data))
        self._maybe_flush()

    def aggregates(self, *aggregates: Aggregate) -> None:
        """Pending events of loaded aggregates, through the library's own mapper."""
        for agg in aggregates:
            self.pending.extend(self.app.mapper.to_stored_event(e) for e in agg.collect_events())
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if len(self.pending) >= self.batch_size:
            self.flush(wait=False)

    def flush(self, wait: bool = True) -> None:
        if self._inflight is not None:
            self._inflight.result()
            self._inflight = None
        sealer = getattr(self.app.mapper, "sealer", None)
        if sealer is not None:
            sealer.flush_pending()  # the batch's data keys are committed before its events
        if self.pending:
            batch, self.pending = self.pending, []
            self._inflight = self._pool.submit(self._insert, batch)
            self.written += len(batch)
        if wait and self._inflight is not None:
            self._inflight.result()
            self._inflight = None

    def _insert(self, batch: list[StoredEvent]) -> None:
        """COPY under the library's own protocol (exclusive table lock, NOTIFY), else the library's insert."""
        recorder = self.app.recorder
        datastore = getattr(recorder, "datastore", None)
        if datastore is None or not hasattr(recorder, "lock_table_statements"):
            recorder.insert_events(batch)
            return
        table = sql.Identifier(datastore.schema, recorder.events_table_name)
        with datastore.get_connection() as conn, conn.transaction():
            with conn.cursor() as curs:
                for statement in recorder.lock_table_statements:
                    curs.execute(statement)
                curs.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(recorder.channel_name)))
                copy_sql = sql.SQL("COPY {} (originator_id, originator_version, topic, state) FROM STDIN").format(table)
                with curs.copy(copy_sql) as copy:
                    for e in batch:
                        copy.write_row((e.originator_id, e.originator_version, e.topic, e.state))

    def close(self) -> int:
        try:
            self.flush(wait=True)
        finally:
            self._pool.shutdown(wait=True)
        return self.written
