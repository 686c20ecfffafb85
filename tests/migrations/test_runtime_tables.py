"""The runtime's consumer tables and the tables of newer features are in each service's history: a schema at the
previous head whose old DDL built them is taken over keeping its rows (or refused when one differs), ``baoxue
migrate --status`` names the new revisions, and a process starts on a migrated database without any CREATE."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from services.runtime import consumer_dlq, consumer_leases, consumer_sinks, migrations, relay
from services.runtime.consumer_loop import ConsumerLoop
from services.runtime.db import Database
from services.runtime.relay import Relay
from services.runtime.scratchdb import fresh_database
from tests.migrations.test_migrations import engine_shape

ROOT = Path(__file__).resolve().parents[2]
CONSUMER_DDL = consumer_sinks.OFFSETS_DDL + consumer_leases.LEASES_DDL + consumer_dlq.DEAD_LETTERS_DDL


def old_ddl(service: str) -> str:
    """What the old DDL created at start beside the previous head (the tables the new revision takes over)."""
    if service == "casework":
        from services.casework.adapters import photos_pg
        return CONSUMER_DDL + photos_pg.DDL
    if service == "notifications":
        from services.notifications.adapters import outbox
        return CONSUMER_DDL + outbox.DDL
    if service == "reporting":
        from services.reporting.adapters import inspection_index, scorecards
        return CONSUMER_DDL + relay.RELAY_DDL + scorecards.CONFIG_DDL + inspection_index.INDEX_DDL
    return CONSUMER_DDL


PREVIOUS = {"attendance": "attendance_0001", "casework": "casework_0001", "notifications": "notifications_0001",
            "reporting": "reporting_0002"}


def migrate_to(url: str, service: str, target: str) -> None:
    eng = migrations.engine(url, service)
    try:
        with eng.connect() as conn, conn.begin():
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{service}"')
            migrations._run(conn, service, service, target)
    finally:
        eng.dispose()


TAKEOVER = {"attendance": "attendance_0002", "casework": "casework_0002", "notifications": "notifications_0002",
            "reporting": "reporting_0003"}  # the revision that took the old DDL's tables over (later ones may follow)


def test_the_new_revisions_follow_the_chain():
    for service, previous in PREVIOUS.items():
        head = migrations.scripts(service).get_revision(TAKEOVER[service])
        assert head.down_revision == previous, service
        assert {"consumer_positions", "consumer_leases", "consumer_members", "consumer_offsets",
                "consumer_partition_counts"} <= {line.split()[5] for line in head.module.SQL.splitlines()
                                                 if line.startswith("CREATE TABLE IF NOT EXISTS")}


@pytest.mark.parametrize("service", sorted(PREVIOUS))
def test_a_schema_at_the_previous_head_with_old_ddl_tables_is_taken_over_keeping_rows(database_url, service):
    with fresh_database(database_url, "mig_t") as url, fresh_database(database_url, "mig_f") as fresh:
        migrate_to(url, service, PREVIOUS[service])
        db = Database(url, service, size=1)
        try:
            db.execute_script(old_ddl(service))  # what every start ran until now
        finally:
            db.close()
        with psycopg.connect(url) as conn:
            conn.execute(f"INSERT INTO {service}.consumer_positions VALUES ('c', 't', 3, 41)")
            conn.execute(f"INSERT INTO {service}.consumer_leases (consumer, topic, partition, holder, epoch) "
                         "VALUES ('c', 't', 3, 'm1', 2)")
        outcome = migrations.upgrade(url, service)
        assert (outcome.before, outcome.after, outcome.adopted) == (PREVIOUS[service], migrations.head(service), True)
        migrations.upgrade(fresh, service)
        assert engine_shape(url, service) == engine_shape(fresh, service)
        with psycopg.connect(url) as conn:
            assert conn.execute(f"SELECT sequence FROM {service}.consumer_positions").fetchall() == [(41,)]
            assert conn.execute(f"SELECT holder, epoch FROM {service}.consumer_leases").fetchall() == [("m1", 2)]


def test_an_old_ddl_table_shaped_otherwise_than_its_revision_is_refused_and_nothing_written(database_url):
    with fresh_database(database_url, "mig_r") as url:
        migrate_to(url, "notifications", "notifications_0001")
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE notifications.delivery_outbox (delivery_id text PRIMARY KEY, surprise int)")
        with pytest.raises(migrations.SchemaMismatch, match="delivery_outbox"):
            migrations.upgrade(url, "notifications")
        assert migrations.current(url, "notifications") == "notifications_0001"
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT to_regclass('notifications.consumer_positions')").fetchone()[0] is None


def baoxue(*args: str, url: str) -> str:
    env = {**os.environ, "BAOXUE_DATABASE_URL": url}
    done = subprocess.run([sys.executable, "-m", "devstack.cli", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_migrate_status_shows_the_new_revisions(database_url):
    with fresh_database(database_url, "mig_s") as url:
        before = baoxue("migrate", "all", "--status", url=url)
        assert "casework: - (code needs casework_0006)" in before
        assert "reporting: - (code needs reporting_0005)" in before
        done = baoxue("migrate", "all", url=url)
        assert "reporting: event stores created: MonthlyReports, Inspections" in done
        assert "event stores created" not in baoxue("migrate", "all", url=url)  # a second run creates nothing
        after = baoxue("migrate", "all", "--status", url=url)
        for line in ("registry: registry_0002 (code needs registry_0002)",
                     "attendance: attendance_0004 (code needs attendance_0004)",
                     "casework: casework_0006 (code needs casework_0006)",
                     "notifications: notifications_0005 (code needs notifications_0005)",
                     "reporting: reporting_0005 (code needs reporting_0005)"):
            assert line in after


# -- a process on a migrated database runs no CREATE ------------------------------------------------------------
STARTS = {"registry": ("api", "relay"), "attendance": ("api", "relay", "consumer"),
          "casework": ("api", "relay", "consumer"), "notifications": ("api", "relay", "consumer"),
          "reporting": ("api", "relay", "consumer")}


def start(service: str, role: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process's start-up as ``baoxue run`` does it, up to its loop (the loop itself is not run)."""
    from services.runtime import bootstrap, metrics

    monkeypatch.setattr(bootstrap, "serve", lambda app, runtime: None)
    monkeypatch.setattr(Relay, "run", lambda self, stop: None)
    monkeypatch.setattr(ConsumerLoop, "run", lambda self, stop: None)
    monkeypatch.setattr(metrics.Metrics, "serve", lambda self, port, host: None)
    importlib.import_module(f"services.{service}.bootstrap").ROLES[role]()


def restricted_role(url: str, schemas: list[str]) -> tuple[str, str]:
    """A login role that may read and write the schemas' tables but create nothing (no CREATE on the database or
    on any schema); its URL and name."""
    name = f"baoxue_app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
        conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
        for schema in schemas:
            ident, role = sql.Identifier(schema), sql.Identifier(name)
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(ident, role))
            conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}").format(
                ident, role))
            conn.execute(sql.SQL("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
                ident, role))
        has_create = conn.execute("SELECT has_database_privilege(%s, current_database(), 'CREATE')",
                                  (name,)).fetchone()[0]
        assert not has_create
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{name}@{parts.hostname}:{parts.port or 5432}")), name


@pytest.mark.parametrize("service", sorted(STARTS))
def test_a_process_starts_on_a_migrated_database_without_create_privilege(database_url, service, monkeypatch,
                                                                          tmp_path):
    monkeypatch.setenv("BAOXUE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BAOXUE_KAFKA_BOOTSTRAP", "127.0.0.1:9")  # never contacted before a loop runs
    with fresh_database(database_url, "mig_n") as url:
        monkeypatch.setenv("BAOXUE_DATABASE_URL", url)
        start(service, "migrate", monkeypatch)  # the migrate Job, as the schema's owner: revisions and event stores
        with psycopg.connect(url) as conn:
            tables_before = conn.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                                         " WHERE n.nspname = %s", (service,)).fetchone()[0]
        schemas = [service] + (["bi"] if service == "reporting" else [])
        app_url, name = restricted_role(url, schemas)
        try:
            monkeypatch.setenv("BAOXUE_DATABASE_URL", app_url)
            for role in STARTS[service]:
                start(service, role, monkeypatch)  # a CREATE of any kind would raise InsufficientPrivilege
            with psycopg.connect(url) as conn:
                assert conn.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                                    " WHERE n.nspname = %s", (service,)).fetchone()[0] == tables_before
        finally:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def test_tables_no_revision_builds_are_not_taken_over(database_url):
    """An event store's tables (the library's) beside the history are left alone: upgraded, nothing adopted."""
    with fresh_database(database_url, "mig_e") as url:
        migrate_to(url, "attendance", "attendance_0001")
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE attendance.attendance_events (originator_id uuid, originator_version bigint)")
        outcome = migrations.upgrade(url, "attendance")
        assert (outcome.before, outcome.after, outcome.adopted) == ("attendance_0001", migrations.head("attendance"), False)


def store_objects(url: str, schema: str) -> dict:
    with psycopg.connect(url) as conn:
        objects = {
            "tables": engine_shape(url, schema)[schema],
            "types": sorted(r[0] for r in conn.execute(
                "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                "WHERE n.nspname = %s AND t.typtype = 'c' AND t.typrelid NOT IN (SELECT oid FROM pg_class "
                "WHERE relkind IN ('r', 'p', 'v'))", (schema,))),
            "functions": sorted(r[0] for r in conn.execute(
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %s",
                (schema,))),
        }
        for table in [t for t in objects["tables"] if t.endswith("_tracking")]:
            objects[table] = conn.execute(f"SELECT * FROM {schema}.{table}").fetchall()  # the library's mark
        return objects


@pytest.mark.parametrize("service", ["attendance", "reporting"])
def test_the_migrate_job_builds_the_event_stores_as_the_applications_do(database_url, service):
    from functools import partial

    from services.runtime.eventstore import build_application, create_stores
    from services.runtime.settings import ServiceSettings

    stores = importlib.import_module(f"services.{service}.bootstrap").EVENT_STORES
    with fresh_database(database_url, "mig_j") as job, fresh_database(database_url, "mig_a") as started:
        assert create_stores(ServiceSettings(database_url=job), service, stores) == [s.name for s in stores]
        assert create_stores(ServiceSettings(database_url=job), service, stores) == []  # complete: nothing run
        for app_cls in stores:
            kwargs = {"snapshot_every": 5} if service == "attendance" else {}
            build_application(partial(app_cls, **kwargs), ServiceSettings(database_url=started), service).close()
        assert store_objects(job, service) == store_objects(started, service)
