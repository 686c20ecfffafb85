"""Versioned schema migrations (Alembic, raw SQL) per service: upgrade, adopt a database the old DDL built, and
the start-up gate that keeps a production process from running on a schema older than its code.

Each service keeps its history in ``services/<service>/adapters/migrations/`` (found by that path, not imported,
so the runtime names no service); the version table is ``alembic_version`` in the service's own schema.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import psycopg
import sqlalchemy as sa
from alembic import op
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from services.runtime.db import DDL_LOCK

logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines are plain text among the JSON logs

SERVICES_DIR = Path(__file__).resolve().parents[1]
VERSION_TABLE = "alembic_version"
CHECK_SCHEMA = "baoxue_migration_check"


class SchemaMismatch(RuntimeError):
    """A database built before the migrations has tables whose shape differs from the baseline: not adopted."""


class SchemaBehind(RuntimeError):
    """The schema's version is older than the code needs (production waits for the migrate Job)."""


@dataclass(frozen=True)
class Outcome:
    """What ``upgrade`` did: the version before and after, and whether an old-DDL database was adopted."""

    schema: str
    before: str | None
    after: str | None
    adopted: bool = False


def execute_sql(statements: str) -> None:
    """Runs a migration's SQL script as written (psycopg, no bind-parameter parsing of ``:`` or ``%``)."""
    op.get_bind().connection.driver_connection.execute(statements)  # type: ignore[union-attr]


def location(service: str) -> Path:
    """Where a service keeps its revisions."""
    return SERVICES_DIR / service / "adapters" / "migrations"


def scripts(service: str) -> ScriptDirectory:
    """The service's revisions (each a module with ``revision``, ``down_revision``, ``upgrade``)."""
    path = str(location(service))
    return ScriptDirectory(path, version_locations=[path])


def head(service: str) -> str:
    """The revision the code needs (one linear history per service)."""
    heads = scripts(service).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"{service}: expected one migration head, found {heads}")
    return heads[0]


def baseline(service: str) -> Any:
    """The first revision's module (its ``SQL`` is the schema as the old DDL strings built it)."""
    base = scripts(service).get_base()
    return scripts(service).get_revision(base).module


def engine(url: str, schema: str) -> sa.Engine:
    """A one-connection engine on the service's schema (psycopg 3 driver, search path as the services use); the
    connection is psycopg's own, so ``url`` may be a URL or a libpq conninfo string as everywhere else."""
    return sa.create_engine("postgresql+psycopg://", poolclass=sa.pool.NullPool,
                            creator=lambda: psycopg.connect(url, options=f"-c search_path={schema},public"))


def _version(conn: sa.Connection, schema: str) -> str | None:
    return MigrationContext.configure(conn, opts={"version_table_schema": schema}).get_current_revision()


def current(url: str, schema: str) -> str | None:
    """The schema's recorded version (None: never migrated)."""
    eng = engine(url, schema)
    try:
        with eng.connect() as conn:
            return _version(conn, schema)
    finally:
        eng.dispose()


def _has_version_table(conn: sa.Connection, schema: str) -> bool:
    return sa.inspect(conn).has_table(VERSION_TABLE, schema=schema)


def _tables(conn: sa.Connection, schema: str) -> set[str]:
    rows = conn.exec_driver_sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %(s)s", {"s": schema})
    return {r[0] for r in rows}


def shape(conn: sa.Connection, schema: str, tables: set[str] | None = None) -> dict[str, Any]:
    """Columns (name, type, nullability, default) and indexes of a schema's tables, schema names taken out."""
    prefix = f"{schema}."
    cols: dict[str, list[tuple[Any, ...]]] = {}
    for t, c, typ, udt, null, default in conn.exec_driver_sql(
        "SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default "
        "FROM information_schema.columns WHERE table_schema = %(s)s ORDER BY table_name, ordinal_position",
        {"s": schema},
    ):
        if tables is None or t in tables:
            cols.setdefault(t, []).append((c, typ, udt, null, (default or "").replace(prefix, "")))
    for listed in cols.values():
        listed.sort()  # a column an old database got by ALTER sits last; the order of columns is not the shape
    idx: dict[str, list[tuple[str, str]]] = {}
    for t, name, definition in conn.exec_driver_sql(
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %(s)s ORDER BY tablename, indexname",
        {"s": schema},
    ):
        if tables is None or t in tables:
            idx.setdefault(t, []).append((name, definition.replace(f" {prefix}", " ")))
    return {t: {"columns": cols.get(t, []), "indexes": idx.get(t, [])} for t in sorted(set(cols) | set(idx))}


def history_sql(service: str, upto: str | None = None) -> list[Any]:
    """Every revision's module, base first, to the head or to ``upto`` (an old-DDL database is adopted at the head:
    every revision is idempotent)."""
    revisions = list(scripts(service).walk_revisions("base", upto or "heads"))
    return [rev.module for rev in reversed(revisions)]


def scratch_sql(service: str, upto: str | None = None) -> str:
    """The history's SQL (base to head, or to ``upto``) aimed at the scratch schema: names it qualifies with the
    service's schema, or with a further schema it declares (``OTHER_SCHEMAS``, e.g. reporting's ``bi``), point into
    scratch schemas."""
    texts = []
    others = getattr(baseline(service), "OTHER_SCHEMAS", ())
    for module in history_sql(service, upto):
        text = re.sub(rf"\b{re.escape(service)}\.", f"{CHECK_SCHEMA}.", module.SQL)
        for other in others:
            text = re.sub(rf"(?<![\w.]){re.escape(other)}(?=\.|;|\s+IS\b|\s*$)", f"{CHECK_SCHEMA}_{other}", text,
                          flags=re.M)
        texts.append(text)
    return "\n".join(texts)


def baseline_shape(conn: sa.Connection, service: str, upto: str | None = None) -> dict[str, Any]:
    """The shape the whole history (or the history to ``upto``) builds, from a scratch schema inside a savepoint
    that is rolled back."""
    with conn.begin_nested() as scratch:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {CHECK_SCHEMA} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {CHECK_SCHEMA}")
        conn.exec_driver_sql(f"SET LOCAL search_path TO {CHECK_SCHEMA}, public")
        conn.connection.driver_connection.execute(scratch_sql(service, upto))  # type: ignore[union-attr]
        built = shape(conn, CHECK_SCHEMA)
        scratch.rollback()
    return built


def differences(conn: sa.Connection, service: str, schema: str, only: set[str] | None = None) -> list[str]:
    """Tables of the baseline (or of them, those in ``only``) present in ``schema`` with another shape (names
    only: no data is read)."""
    want = baseline_shape(conn, service)
    have = shape(conn, schema, set(want))
    return sorted(t for t in want if t in have and have[t] != want[t] and (only is None or t in only))


def _outside_history(conn: sa.Connection, service: str, schema: str, version: str) -> set[str]:
    """Tables of a versioned schema that its history to ``version`` does not build but a later revision does: the
    old DDL created them at start before that revision took them over (consumer tables, tables of newer features).
    Tables no revision builds (the event stores, attendance's check-in partitions) are not the history's."""
    built = set(baseline_shape(conn, service, version))
    later = set(baseline_shape(conn, service))
    return (_tables(conn, schema) - built - {VERSION_TABLE}) & later


def _run(conn: sa.Connection, service: str, schema: str, target: str) -> None:
    """Upgrades to ``target`` on the caller's connection, inside its transaction."""
    script = scripts(service)
    config = Config()

    def step(rev: Any, _context: Any) -> Any:  # what alembic's own `command.upgrade` hands its env.py
        return script._upgrade_revs(target, rev)

    with EnvironmentContext(config, script, fn=step, destination_rev=target) as env:
        env.configure(connection=conn, version_table_schema=schema, transactional_ddl=True)
        env.run_migrations()


def _adopt(conn: sa.Connection, service: str, schema: str) -> None:
    """Runs the baseline over an old-DDL schema and checks the result; ``SchemaMismatch`` names the tables that
    differ (also when the baseline cannot even apply over them)."""
    attempt = conn.begin_nested()
    try:
        _run(conn, service, schema, "head")
    except (sa.exc.DBAPIError, psycopg.Error):
        attempt.rollback()
        changed = differences(conn, service, schema)
        raise SchemaMismatch(f"{schema}: the baseline does not apply; tables that differ: {', '.join(changed)}") from None
    attempt.commit()
    changed = differences(conn, service, schema)
    if changed:
        raise SchemaMismatch(f"{schema}: tables differ from the baseline: {', '.join(changed)}")


def upgrade(url: str, service: str, schema: str | None = None) -> Outcome:
    """Brings the schema to the code's head, in one transaction under the DDL lock. A schema the old DDL built (its
    tables, no version table) is adopted: the baseline (idempotent ``IF NOT EXISTS``) runs over it and must leave
    every baseline table shaped as on a fresh database, else ``SchemaMismatch`` and nothing is written. Likewise a
    versioned schema whose tables outside its version's history (built by the old DDL at start) a newer revision
    takes over: each of them must come out shaped as the revisions build it."""
    schema = schema or service
    eng = engine(url, schema)
    try:
        with eng.connect() as conn:  # at the head already (every later start): nothing is locked or created
            version = _version(conn, schema) if _has_version_table(conn, schema) else None
            conn.rollback()
        if satisfies(service, version):
            return Outcome(schema, version, version)
        with eng.connect() as conn, conn.begin():
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext(%(k)s))", {"k": DDL_LOCK})
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            before = _version(conn, schema) if _has_version_table(conn, schema) else None
            existing = _tables(conn, schema) if before is None else set()
            legacy = bool(existing) and bool(existing & set(baseline_shape(conn, service)))
            if legacy:
                _adopt(conn, service, schema)
            taken_over: set[str] = set()
            if before is not None and not satisfies(service, before):
                taken_over = _outside_history(conn, service, schema, before)
            attempt = conn.begin_nested()
            try:
                _run(conn, service, schema, "head")
            except (sa.exc.DBAPIError, psycopg.Error):
                if not taken_over:
                    raise
                attempt.rollback()  # a revision could not even apply over a table the old DDL built otherwise
                changed = differences(conn, service, schema, taken_over)
                raise SchemaMismatch(f"{schema}: the revisions do not apply; tables the old DDL built that differ: "
                                     f"{', '.join(changed)}") from None
            attempt.commit()
            if taken_over:  # the old DDL's tables a newer revision now owns must be as the revision builds them
                changed = differences(conn, service, schema, taken_over)
                if changed:
                    raise SchemaMismatch(f"{schema}: tables the old DDL built differ from the revisions: "
                                         f"{', '.join(changed)}")
            after = _version(conn, schema)
        return Outcome(schema, before, after, adopted=legacy or bool(taken_over))
    finally:
        eng.dispose()


def satisfies(service: str, version: str | None) -> bool:
    """Whether a schema at ``version`` has what the code needs: the code's head or a later revision (a newer
    migration than this code knows, during a rolling update, is ahead, not behind)."""
    if version is None:
        return False
    script = scripts(service)
    try:
        script.get_revision(version)
    except CommandError:
        return True  # unknown to this code: written by a newer release
    return head(service) in {r.revision for r in script.iterate_revisions(version, "base")}


def wait_until_current(url: str, service: str, logger: Any, wait_s: float = 0, poll_s: float = 5,
                       sleep: Callable[[float], None] = time.sleep, schema: str | None = None) -> str:
    """Production start-up: waits (``schema_behind`` logged each poll) until the migrate Job brought the schema to
    the code's head; ``wait_s`` bounds the wait (0: for ever), then ``SchemaBehind``."""
    schema = schema or service
    needed = head(service)
    started = time.monotonic()
    while True:
        version = current(url, schema)
        if satisfies(service, version):
            return version or ""
        logger.warning("schema_behind", schema=schema, version=version, needed=needed,
                       hint=f"run the migrate Job (baoxue run {service} migrate)")
        if wait_s and time.monotonic() - started >= wait_s:
            raise SchemaBehind(f"{schema} is at {version}, the code needs {needed}: run baoxue run {service} migrate")
        sleep(poll_s)
