"""Versioned read-model migrations: the baseline builds what the old DDL built, an old-DDL database is adopted at the
baseline, and production waits for the migrate Job instead of changing the schema itself."""

from __future__ import annotations

import re
import shutil
import subprocess

import psycopg
import pytest

from services.runtime import consumer_dlq, consumer_leases, consumer_sinks, migrations, ownlog, ratelimit, readaudit, relay
from services.runtime.clock import SystemClock
from services.runtime.db import Database
from services.runtime.scratchdb import fresh_database

SERVICES = ("registry", "attendance", "casework", "notifications", "reporting")


def legacy_consumer(db: Database) -> None:
    """What a consumer process created at start: its positions and offset hints, members, leases, counts."""
    db.execute_script(consumer_sinks.OFFSETS_DDL)
    db.execute_script(consumer_leases.LEASES_DDL)
    db.execute_script(consumer_dlq.DEAD_LETTERS_DDL)


def legacy_registry(db: Database) -> None:
    from services.registry.adapters import keys
    from services.registry.adapters.last_run import PostgresLastRun
    from services.registry.adapters.readmodel.postgres import PostgresIndex

    PostgresIndex(db).ensure()
    PostgresLastRun(db)
    db.execute_script(keys.DDL)
    readaudit.ReadAudit(db, SystemClock())
    db.execute_script(relay.RELAY_DDL)


def legacy_attendance(db: Database) -> None:
    from services.attendance.adapters import schema

    schema.migrate(db)
    db.execute_script(ratelimit.DDL)
    db.execute_script(relay.RELAY_DDL)
    legacy_consumer(db)


def legacy_casework(db: Database) -> None:
    from services.casework.adapters import placements, projections_pg
    from services.casework.adapters.photos_pg import PostgresPhotos

    db.execute_script(ownlog.POSITION_DDL + projections_pg.DDL + placements.DDL)
    readaudit.ReadAudit(db, SystemClock())
    db.execute_script(relay.RELAY_DDL)
    legacy_consumer(db)
    PostgresPhotos(db)


def legacy_notifications(db: Database) -> None:
    from services.notifications.adapters import contacts, projections
    from services.notifications.adapters.outbox import PostgresOutbox, PostgresPreferences

    db.execute_script(ownlog.POSITION_DDL + projections.DDL + contacts.DDL)
    db.execute_script(relay.RELAY_DDL)
    legacy_consumer(db)
    PostgresOutbox(db).ensure()
    PostgresPreferences(db).ensure()


def legacy_reporting(db: Database) -> None:
    from services.reporting.adapters import schema
    from services.reporting.adapters.inspection_index import InspectionIndex
    from services.reporting.adapters.report_index import ReportIndex
    from services.reporting.adapters.scorecards import ScorecardConfig

    schema.install(db)
    ReportIndex(db)
    readaudit.ReadAudit(db, SystemClock())
    legacy_consumer(db)
    db.execute_script(relay.RELAY_DDL)
    ScorecardConfig(db)
    InspectionIndex(db)


LEGACY = {"registry": legacy_registry, "attendance": legacy_attendance, "casework": legacy_casework,
          "notifications": legacy_notifications, "reporting": legacy_reporting}


def build_legacy(url: str, service: str) -> None:
    """The schema as the services built it before migrations: their DDL strings, run the old way."""
    db = Database(url, service, size=2)
    try:
        LEGACY[service](db)
    finally:
        db.close()


def engine_shape(url: str, service: str) -> dict:
    eng = migrations.engine(url, service)
    try:
        with eng.connect() as conn:
            tables = migrations.shape(conn, service)
            tables.pop(migrations.VERSION_TABLE, None)
            shapes = {service: tables}
            if service == "reporting":
                shapes["bi"] = migrations.shape(conn, "bi")
            shapes["triggers"] = sorted(r[0] for r in conn.exec_driver_sql(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))
            shapes["views"] = sorted(conn.exec_driver_sql(
                "SELECT schemaname, viewname, definition FROM pg_views WHERE schemaname IN ('bi', %(s)s)",
                {"s": service}).fetchall())
            return shapes
    finally:
        eng.dispose()


def dump(url: str, service: str) -> str | None:
    """``pg_dump --schema-only`` of the service's schemas, without the version table and dump noise (None when the
    machine's pg_dump is older than the server, e.g. against the embedded PostgreSQL)."""
    schemas = [service] + (["bi"] if service == "reporting" else [])
    done = subprocess.run(["pg_dump", "--schema-only", "--no-owner", "--no-privileges",
                           *[f"--schema={s}" for s in schemas], "--exclude-table=*.alembic_version", url],
                          capture_output=True, text=True)
    if done.returncode and "version mismatch" in done.stderr:
        return None
    assert done.returncode == 0, done.stderr
    out = done.stdout
    lines = [ln for ln in out.splitlines() if ln and not ln.startswith("--") and not ln.startswith("\\")]
    return "\n".join(re.sub(r"^SET .*", "", ln) for ln in lines)


@pytest.fixture
def two_databases(database_url):
    with fresh_database(database_url, "mig_a") as a, fresh_database(database_url, "mig_b") as b:
        yield a, b


@pytest.mark.parametrize("service", SERVICES)
def test_baseline_builds_what_the_old_ddl_built(two_databases, service):
    migrated, legacy = two_databases
    outcome = migrations.upgrade(migrated, service)
    assert (outcome.before, outcome.after, outcome.adopted) == (None, migrations.head(service), False)
    build_legacy(legacy, service)
    assert engine_shape(migrated, service) == engine_shape(legacy, service)
    if shutil.which("pg_dump"):
        assert dump(migrated, service) == dump(legacy, service)


@pytest.mark.parametrize("service", SERVICES)
def test_an_old_ddl_database_is_adopted_at_the_baseline_and_keeps_its_rows(two_databases, service):
    url, fresh = two_databases
    build_legacy(url, service)
    with psycopg.connect(url) as conn:
        conn.execute(f"INSERT INTO {service}.read_audit (at, actor_id, actor_role, actor_jurisdiction, purpose, view, "
                     "subject_jurisdiction) VALUES (now(), 'u1', 'auditor', '52', 'audit', 'v', '52')"
                     if service in ("registry", "casework", "reporting") else
                     f"INSERT INTO {service}.relay_position (topic, position) VALUES ('t', 7)")
    assert migrations.current(url, service) is None
    outcome = migrations.upgrade(url, service)
    assert (outcome.before, outcome.after, outcome.adopted) == (None, migrations.head(service), True)
    assert migrations.current(url, service) == migrations.head(service)
    migrations.upgrade(fresh, service)
    assert engine_shape(url, service) == engine_shape(fresh, service)
    table = "read_audit" if service in ("registry", "casework", "reporting") else "relay_position"
    with psycopg.connect(url) as conn:
        assert conn.execute(f"SELECT count(*) FROM {service}.{table}").fetchone()[0] == 1
    again = migrations.upgrade(url, service)  # a second run (every process start in development) changes nothing
    assert (again.before, again.after, again.adopted) == (migrations.head(service), migrations.head(service), False)


def test_an_old_database_whose_tables_differ_is_refused_and_left_as_it_was(database_url):
    with fresh_database(database_url, "mig_x") as url:
        with psycopg.connect(url) as conn:
            conn.execute("CREATE SCHEMA casework")
            conn.execute("CREATE TABLE casework.case_index (case_id text PRIMARY KEY, surprise int)")
        with pytest.raises(migrations.SchemaMismatch, match="case_index"):
            migrations.upgrade(url, "casework")
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT to_regclass('casework.due_timers')").fetchone()[0] is None
            assert conn.execute("SELECT to_regclass('casework.alembic_version')").fetchone()[0] is None


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict]] = []

    def warning(self, event: str, **kw) -> None:
        self.lines.append((event, kw))


def test_production_waits_for_the_migrate_job_then_starts(database_url):
    with fresh_database(database_url, "mig_p") as url:
        log, sleeps = Log(), []

        def sleep(_s: float) -> None:  # the migrate Job runs while the service waits
            sleeps.append(_s)
            migrations.upgrade(url, "notifications")

        assert migrations.wait_until_current(url, "notifications", log, sleep=sleep) == migrations.head("notifications")
        assert [e for e, _ in log.lines] == ["schema_behind"]
        assert log.lines[0][1]["needed"] == migrations.head("notifications") and log.lines[0][1]["version"] is None
        assert "migrate" in log.lines[0][1]["hint"]


def test_production_gives_up_after_the_wait_with_a_clear_error(database_url):
    with fresh_database(database_url, "mig_q") as url:
        with pytest.raises(migrations.SchemaBehind, match="baoxue run registry migrate"):
            migrations.wait_until_current(url, "registry", Log(), wait_s=0.01, poll_s=0.01)


def test_a_schema_newer_than_the_code_counts_as_current():
    assert migrations.satisfies("registry", migrations.head("registry"))
    assert not migrations.satisfies("registry", "registry_0001")  # behind the head: the migrate Job is awaited
    assert migrations.satisfies("registry", "registry_9999_from_a_newer_release")
    assert not migrations.satisfies("registry", None)


def test_processes_starting_together_migrate_once(database_url):
    from concurrent.futures import ThreadPoolExecutor

    with fresh_database(database_url, "mig_c") as url:
        with ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(lambda _: migrations.upgrade(url, "attendance"), range(4)))
        head = migrations.head("attendance")
        assert sorted(o.before or "-" for o in outcomes) == ["-", head, head, head]
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM attendance.alembic_version").fetchone()[0] == 1


def test_every_service_has_a_migrate_role_that_no_process_plan_starts():
    from devstack.catalog import SERVICES as CATALOG, service_entries, service_roles

    for service in CATALOG:
        assert "migrate" in service_entries(service) and "migrate" not in service_roles(service)
        assert migrations.head(service).startswith(f"{service}_")
