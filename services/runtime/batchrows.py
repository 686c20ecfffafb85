"""A lookup table beside a service's event store, written by its consumer's batches: rows by key (who owns a
child's case, whom to tell), not aggregates. A batch reads the rows its policies declare in one query, its policies
see each other's changes, and the changed rows are written in one statement inside the transaction that inserts the
batch's events and positions (after the lease fence): exactly once with them, like any other effect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Iterable, Sequence, TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError
import orjson
from psycopg import sql

Row = TypeVar("Row")
_LEGACY = object()  # prefetched: not in the table, the legacy aggregate (if any) says


@dataclass(frozen=True, slots=True)
class RowRef:
    """A row a policy reads, named beside aggregate ids in its ``loads`` declaration: the batch reads the rows of a
    whole poll in one query (``BatchRows.prefetch``)."""

    table: str
    key: str


class BatchRows(Generic[Row]):
    """Rows of one table by key, as a consumer's batch sees them. Rows are immutable values: a policy ``put``s a new
    one. Outside a batch (an API read) ``get`` reads the table; only a batch writes. On an in-memory event store
    (tests) the rows live in a dict, committed when the batch is saved.

    Each row carries a version, as an aggregate does: a batch writes a row only over the version it read, so two
    consumers' batches changing one row (a student's contact from the registry's topic and from casework's) cannot
    lose each other's change — the later one fails like a version conflict of its events (``IntegrityError``: the
    consumer applies its messages again one at a time, reading the row anew).

    A subclass names its ``table`` and gives ``DDL`` (what its migration revision froze), ``select`` (many keys, one
    query: rows and versions), ``upsert`` (many rows with their new versions, one statement, returning how many it
    wrote) and optionally ``legacy_ids``/``legacy`` (the aggregate that held the row before the table did, read where
    the table has no row yet)."""

    table: str = ""
    DDL: str = ""

    def __init__(self, app: Any) -> None:
        self.app = app
        datastore = getattr(app.recorder, "datastore", None)
        self.schema: str | None = getattr(datastore, "schema", None) if datastore is not None else None
        self.datastore = datastore if self.schema else None
        self.memory: dict[str, Row] | None = None if self.datastore is not None else {}
        self.staged: dict[str, Any] | None = None  # key -> row, None (none anywhere) or _LEGACY, during a batch
        self.dirty: dict[str, Row] = {}
        self.versions: dict[str, int] = {}  # the version of each row the batch read (absent: none yet)
        self.unsettled: dict[str, UUID] = {}  # prefetched keys the table lacks -> their legacy aggregate's id
        self.name = sql.Identifier(self.table)

    # -- what a subclass gives -------------------------------------------------------------------------------
    def select(self, conn: Any, keys: list[str]) -> dict[str, tuple[Row, int]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def upsert(self, curs: Any, rows: list[Row], versions: list[int]) -> int:  # pragma: no cover - abstract
        """Inserts each row, or updates it where the stored version is one below its new one; how many it wrote."""
        raise NotImplementedError

    def legacy_ids(self, keys: Iterable[str]) -> list[UUID]:
        """The ids of the aggregates that held these rows before the table (read with the batch's aggregates)."""
        return []

    def legacy(self, key: str) -> Row | None:
        """The row as the legacy aggregate holds it, or None."""
        return None

    def qualified(self) -> sql.Composed:
        assert self.schema is not None
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), self.name)

    # -- the batch's side (``ServiceApplication.batch`` / ``save_batch``) --------------------------------------
    def begin(self) -> None:
        self.staged, self.dirty, self.versions, self.unsettled = {}, {}, {}, {}

    def end(self) -> None:
        self.staged, self.dirty, self.versions, self.unsettled = None, {}, {}, {}

    def prefetch(self, keys: Iterable[str]) -> list[UUID]:
        """Reads these rows in one query; returns the legacy aggregate ids of those the table lacks (for the
        batch's one aggregate query)."""
        assert self.staged is not None, "only inside a batch"
        wanted = [k for k in dict.fromkeys(keys) if k not in self.staged]
        if not wanted:
            return []
        found = self._read(wanted)
        missing = []
        for key in wanted:
            row = found.get(key)
            if row is None:
                missing.append(key)
                self.staged[key] = _LEGACY
            else:
                self.staged[key] = row
        ids = self.legacy_ids(missing)
        self.unsettled.update(zip(missing, ids))
        return ids

    def settle(self, prefetched: dict[UUID, Any]) -> None:
        """After the batch's aggregate query: a key whose legacy aggregate it found missing has no row anywhere (no
        second look at the store for it)."""
        for key, legacy_id in self.unsettled.items():
            if legacy_id in prefetched and prefetched[legacy_id] is None and self.staged is not None \
                    and self.staged.get(key) is _LEGACY:
                self.staged[key] = None
        self.unsettled = {}

    def write(self, curs: Any) -> None:
        """Writes the batch's changed rows: one statement in the events' transaction (in memory: into the dict)."""
        if not self.dirty:
            return
        if self.memory is not None:
            self.memory.update(self.dirty)
            return
        versions = self.versions
        written = self.upsert(curs, list(self.dirty.values()), [versions.get(key, 0) + 1 for key in self.dirty])
        if written != len(self.dirty):
            raise IntegrityError(f"{self.table}: {len(self.dirty) - written} row(s) changed by another writer")

    # -- what policies and queries use ----------------------------------------------------------------------
    def get(self, key: str) -> Row | None:
        staged = self.staged
        if staged is None:
            return self._read([key]).get(key) or self.legacy(key)
        row = staged.get(key, _LEGACY) if key in staged else self._read([key]).get(key, _LEGACY)
        if row is _LEGACY:
            row = self.legacy(key)
        staged[key] = row
        return row

    def put(self, key: str, row: Row) -> None:
        """A new value of the row, written when the batch is saved (seen by the batch's later policies)."""
        assert self.staged is not None, "rows are written by a consumer's batch"
        self.staged[key] = row
        self.dirty[key] = row

    def _read(self, keys: list[str]) -> dict[str, Row]:
        if self.memory is not None:
            return {k: self.memory[k] for k in keys if k in self.memory}
        assert self.datastore is not None
        with self.datastore.get_connection() as conn:
            found = self.select(conn, keys)
        if self.staged is not None:
            self.versions.update((key, version) for key, (_row, version) in found.items())
        return {key: row for key, (row, _version) in found.items()}

    def ensure(self) -> None:
        """The table's DDL on a schema no migration history owns (a test's scratch schema); nothing on a versioned
        one, where the service's revision created it (services/runtime/README.md, *Schema migrations*)."""
        if self.datastore is None:
            return
        with self.datastore.get_connection() as conn, conn.transaction():
            versioned = conn.execute("SELECT to_regclass(%s) IS NOT NULL AS v",
                                     (f'"{self.schema}".alembic_version',)).fetchone()
            if versioned and list(dict(versioned).values())[0]:
                return
            conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(self.schema)))
            conn.execute(self.DDL)



def json_rows(columns: Sequence[str], types: Sequence[str]) -> sql.Composed:
    """What an upsert selects a batch's rows from: ``json_to_recordset(%s::json)`` of these columns and types, one
    JSON array of the rows (``rows_json``) as its one parameter, read by PostgreSQL in the array's order. psycopg
    dumps the binary arrays of an ``unnest`` element by element in Python (each list scanned for its element type
    first): on an onboarding, the upsert of the batch's rows was a sixth of the casework consumer's CPU (py-spy);
    orjson writes the array in C. (A binary COPY would be cheaper still, but the event store's insert transaction
    runs in pipeline mode, where COPY is refused.) Values arrive as their columns' input functions read the JSON
    text: text as is, numbers, booleans, null, and aware datetimes in RFC 3339 with their offset."""
    return sql.SQL("json_to_recordset(%s::json) AS u ({})").format(
        sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in zip(columns, types)))


def rows_json(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The rows (value tuples in ``columns`` order) as the JSON array ``json_rows`` reads."""
    return orjson.dumps([dict(zip(columns, row)) for row in rows]).decode()
