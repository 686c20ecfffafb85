"""PostgreSQL connections for read models and runtime bookkeeping, scoped to a service's schema."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator

import orjson
import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool

from services.runtime.logging import error_text

# json/jsonb columns are decoded with orjson (the stdlib decoder was a quarter of the registry's daily comparison run
# over 100,000 children); values are the same Python objects
set_json_loads(orjson.loads)

DDL_LOCK = "baoxue-ddl"
VERSION_TABLE = "alembic_version"  # where a service's migration history records its version (runtime.migrations)

# A leader's session must end soon after its host vanishes (a process that dies closes its socket, and PostgreSQL
# drops its locks at once): TCP keepalives and a user timeout on both ends, about 10 s. The server-side settings
# are per session (``options``), so no server configuration is needed.
LEADER_CONNECT: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
    "options": "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3"
    " -c tcp_user_timeout=10000",
}


def ensure_schema(url: str, schema: str) -> None:
    """Creates the schema if it is missing (under the DDL lock); an existing one is only looked up, so a role
    without CREATE privilege on the database can open a pool on it."""
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", (f'"{schema}"',)).fetchone()[0]:  # type: ignore[index]
            return
    with ddl_lock(url), psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


@contextmanager
def ddl_lock(url: str) -> Iterator[None]:
    """Serialises schema changes across processes that start together on a fresh database."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (DDL_LOCK,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (DDL_LOCK,))


class Database:
    """A small pool on one schema; ``transaction()`` is the unit of atomic change."""

    def __init__(self, url: str, schema: str, size: int = 4) -> None:
        self.url = url
        self.schema = schema
        self._versioned = False
        ensure_schema(url, schema)
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=size,
            kwargs={"options": f"-c search_path={schema},public", "row_factory": dict_row},
            open=True,
            check=ConnectionPool.check_connection,
        )

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """A connection inside one transaction, committed on success, rolled back on error."""
        with self.pool.connection() as conn:
            with conn.transaction():
                yield conn

    def execute_script(self, statements: str) -> None:
        """Runs idempotent DDL (CREATE ... IF NOT EXISTS) in one transaction, always (see ``ensure_tables``)."""
        with self.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (DDL_LOCK,))
            conn.execute(statements)  # type: ignore[arg-type]

    def versioned(self) -> bool:
        """Whether a migration history owns this schema (its ``alembic_version`` table is there: the migrate Job,
        or the process itself outside production, brought it to the code's head before this pool opened)."""
        if not self._versioned:
            with self.pool.connection() as conn:
                row = conn.execute("SELECT to_regclass(%s) IS NOT NULL AS v",
                                   (f'"{self.schema}".{VERSION_TABLE}',)).fetchone()
            self._versioned = bool(row and row["v"])  # type: ignore[index]
        return self._versioned

    def ensure_tables(self, statements: str) -> None:
        """The old idempotent DDL of tables a migration revision now creates: run only on a schema no migration
        history owns (a test's scratch schema, a made-up service); on a versioned schema nothing at all, so a
        process starts without CREATE privilege (services/runtime/README.md, *Schema migrations*)."""
        if not self.versioned():
            self.execute_script(statements)

    def ping(self) -> bool:
        """True when the database answers."""
        try:
            with self.pool.connection(timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except Exception:  # noqa: BLE001 - readiness reports any failure as not ready
            return False

    def close(self) -> None:
        self.pool.close()


class LeadershipLost(RuntimeError):
    """A write that needs the lock was attempted without it."""


class Leadership:
    """A session advisory lock: one active holder per name (a relay per service, a consumer per name).

    The lock lives as long as its connection; when that connection is lost, so is the leadership. With ``listen``
    the same connection LISTENs on that channel while it leads, and ``wait`` sleeps until a NOTIFY arrives on it.
    """

    def __init__(self, url: str, name: str, logger: Any, listen: str | None = None, shared: bool = False,
                 member_lock: str | None = None) -> None:
        self.url = url
        self.name = name
        self.log = logger
        self.listen = listen
        self.shared = shared  # several holders at once (relay shards), none while someone holds it exclusively
        self.member_lock = member_lock  # an exclusive lock of this holder alone: others probe it to see it alive
        self._conn: psycopg.Connection | None = None

    def held(self) -> bool:
        """True while this process leads; tries to take the lead when it does not."""
        if self._conn is not None:
            try:
                self._conn.execute("SELECT 1")
                return True
            except psycopg.Error:
                self.log.warning("leadership_lost", lock=self.name)
                self._conn = None
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5, **LEADER_CONNECT)
        except psycopg.Error as exc:
            self.log.warning("leadership_db_unavailable", lock=self.name, error=error_text(exc, 200))
            return False
        take = "pg_try_advisory_lock_shared" if self.shared else "pg_try_advisory_lock"
        row = conn.execute(f"SELECT {take}(hashtext(%s))", (self.name,)).fetchone()
        if row and row[0] and self.member_lock:
            row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (self.member_lock,)).fetchone()
        if row and row[0]:
            if self.listen:  # before the caller's next read: what commits after that read notifies this connection
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.listen)))
            self._conn = conn
            self.log.info("leadership_taken", lock=self.name, listen=self.listen)
            return True
        conn.close()
        return False

    def wait(self, timeout: float) -> bool:
        """Waits up to ``timeout`` seconds for a NOTIFY on the listened channel (those that came while the
        connection ran queries count too). True when one came or the connection failed (look again), else False."""
        if self._conn is None or not self.listen:
            time.sleep(timeout)
            return False
        notified = False
        try:
            for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                notified = True  # the rest of the same packet is taken too: one look covers them all
        except psycopg.Error as exc:
            self.log.warning("leadership_lost", lock=self.name, error=error_text(exc, 200))
            self._conn.close()
            self._conn = None
            return True
        return notified

    @property
    def connection(self) -> psycopg.Connection | None:
        """The lock's session connection while held (a new one after a loss: its session locks are new)."""
        return self._conn

    @property
    def leading(self) -> bool:
        """Whether this process holds the lock as far as it knows (no round trip)."""
        return self._conn is not None

    def execute(self, statement: Any, params: Any = None) -> Any:
        """Runs a statement on the lock's connection (autocommit): it fails once the lock is lost, which fences
        a leader that has not noticed yet."""
        if self._conn is None:
            raise LeadershipLost(self.name)
        try:
            return self._conn.execute(statement, params)
        except psycopg.OperationalError:
            self.log.warning("leadership_lost", lock=self.name)
            self._conn.close()
            self._conn = None
            raise

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
