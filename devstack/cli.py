"""The ``baoxue`` command: run the stack or one process, mint development tokens, export schemas."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from devstack.catalog import SERVICES, service_entries, service_roles
from services.runtime.settings import ServiceSettings

app = typer.Typer(help="Baoxue (保学): 控辍保学 platform.", no_args_is_help=True, pretty_exceptions_enable=False)
contracts_app = typer.Typer(help="Event contracts and their JSON Schemas.", no_args_is_help=True)
infra_app = typer.Typer(help="Local infrastructure processes (foreground).", no_args_is_help=True)
app.add_typer(contracts_app, name="contracts")


def _mount_service_commands() -> None:
    """Each service may bring its own sub-commands (imports, benchmarks, rebuilds)."""
    from services.registry.bootstrap import CLI as registry_app

    from services.attendance.bootstrap import cli as attendance_app
    from services.reporting.bootstrap import cli as reporting_app

    app.add_typer(registry_app, name="registry", help="Registry: imports, divisions, comparisons, keys.")
    app.add_typer(attendance_app, name="attendance", help="Attendance: calendar import, day-close cut-offs.")
    app.add_typer(reporting_app, name="reporting", help="Reporting: rebuild, reset positions, monthly reports, BI role.")
    from devstack.deadletters import app as deadletters_app

    app.add_typer(deadletters_app, name="deadletters", help="Dead letters: list, replay through the consumer's policy.")
    from simulator.cli import app as simulate_app

    app.add_typer(simulate_app, name="simulate", help="Simulates a province term through the public APIs and reconciles.")


_mount_service_commands()
app.add_typer(infra_app, name="infra")


@app.command()
def run(service: str = typer.Argument(..., help="registry | attendance | casework | notifications | reporting"),
        role: str = typer.Argument(..., help="api | relay | consumer | scheduler | migrate")) -> None:
    """Runs one process of one service in the foreground (``migrate``: the schema to the code's head, then exit)."""
    if service not in SERVICES:
        raise typer.BadParameter(f"unknown service {service!r}")
    roles = service_entries(service)
    if role not in roles:
        raise typer.BadParameter(f"{service} has no {role!r} process (has: {', '.join(roles)})")
    roles[role]()


@app.command()
def migrate(service: str = typer.Argument("all", help="registry | attendance | casework | notifications | reporting | all"),
            status: bool = typer.Option(False, "--status", help="only print each schema's version and the code's")) -> None:
    """Brings each service's schema to the version its code needs (what the migrate Job runs)."""
    import importlib

    from services.runtime import migrations  # imported here: alembic only for this command
    from services.runtime.eventstore import create_stores

    chosen = SERVICES if service == "all" else (service,)
    if any(s not in SERVICES for s in chosen):
        raise typer.BadParameter(f"unknown service {service!r}")
    url = ServiceSettings().database_url
    for name in chosen:
        if status:
            typer.echo(f"{name}: {migrations.current(url, name) or '-'} (code needs {migrations.head(name)})")
            continue
        try:
            done = migrations.upgrade(url, name)
        except migrations.SchemaMismatch as exc:
            typer.echo(f"{name}: 拒绝迁移 (refused): {exc}", err=True)
            raise typer.Exit(1) from None
        note = " (existing tables adopted)" if done.adopted else ""
        typer.echo(f"{name}: {done.before or '-'} -> {done.after}{note}")
        stores = importlib.import_module(f"services.{name}.bootstrap").EVENT_STORES
        created = create_stores(ServiceSettings(), name, stores)
        if created:
            typer.echo(f"{name}: event stores created: {', '.join(created)}")


@app.command("dev-token")
def dev_token(
    role: str = typer.Option(..., help="admin, county_officer, township_officer, school_staff, head_teacher, ..."),
    jurisdiction: str = typer.Option(..., help="Administrative division code prefix, e.g. 520102"),
    user: str = typer.Option("dev-user", help="User id recorded as the actor"),
    name: str | None = typer.Option(None, help="Display name"),
    schools: str | None = typer.Option(None, help="Comma-separated school ids (attendance systems)"),
    hours: int = typer.Option(12, help="Validity in hours"),
) -> None:
    """Mints a bearer token signed with the configured key (development use)."""
    from datetime import timedelta

    from services.runtime.auth import Actor
    from services.runtime.oidc import TokenVerifier, token_verifier

    settings = ServiceSettings()
    actor = Actor(
        user_id=user, role=role, jurisdiction=jurisdiction, name=name, schools=schools.split(",") if schools else None
    )
    verifier: TokenVerifier = token_verifier(settings)
    if verifier.dev is None:
        raise typer.BadParameter("开发令牌已关闭 (development tokens are disabled: BAOXUE_JWT_DEV_TOKENS)")
    typer.echo(verifier.mint(actor, ttl=timedelta(hours=hours)))


@app.command("roles")
def roles(
    service: str | None = typer.Option(None, help="One service (default: all five)"),
    write: bool = typer.Option(False, help="Write the table into each service's README.md"),
) -> None:
    """Prints (or writes into the READMEs) each service's role matrix as a markdown table."""
    from devstack.catalog import service_matrix
    from services.runtime.access_doc import markdown, write_readme

    for name in [service] if service else SERVICES:
        matrix = service_matrix(name)
        if write:
            readme = Path(__file__).resolve().parents[1] / "services" / name / "README.md"
            typer.echo(f"{readme}: {'updated' if write_readme(readme, matrix, name) else 'unchanged'}")
        else:
            typer.echo(f"## {name}\n{markdown(matrix, name)}\n")


@contracts_app.command("export")
def contracts_export(directory: Path = typer.Option(None, help="Defaults to the contracts package schemas/")) -> None:
    """Writes new contract schemas; refuses to change a committed schema incompatibly."""
    from contracts.schemas_io import SCHEMA_DIR, export_schemas

    for line in export_schemas(directory or SCHEMA_DIR):
        typer.echo(line)


@contracts_app.command("check")
def contracts_check(directory: Path = typer.Option(None, help="Defaults to the contracts package schemas/")) -> None:
    """Fails when committed schemas and models disagree."""
    from contracts.schemas_io import SCHEMA_DIR, check_schemas

    problems = check_schemas(directory or SCHEMA_DIR)
    for p in problems:
        typer.echo(p, err=True)
    raise typer.Exit(1 if problems else 0)


@infra_app.command("postgres")
def infra_postgres(data_dir: Path = typer.Option(Path("var/postgres")), port: int = typer.Option(55432)) -> None:
    """Runs the embedded PostgreSQL in the foreground."""
    from services.runtime.infra import run_foreground

    run_foreground("postgres", data_dir, port)


@infra_app.command("broker")
def infra_broker(port: int = typer.Option(59092)) -> None:
    """Runs the local Kafka-protocol broker (tansu, in memory) in the foreground."""
    from services.runtime.infra import run_foreground

    run_foreground("broker", Path("var"), port)


@app.command()
def up(
    only_infra: bool = typer.Option(False, help="Start PostgreSQL and the broker only"),
    replicas: str = typer.Option("", help="Copies per process kind, e.g. consumer=3,api=2,relay=2,scheduler=2"),
) -> None:
    """Starts PostgreSQL, the broker and every service process under one supervisor; Ctrl-C stops all."""
    from devstack.stack import parse_replicas, up as stack_up

    try:
        copies = parse_replicas(replicas)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--replicas") from exc
    stack_up(only_infra=only_infra, replicas=copies)


bench_app = typer.Typer(help="Benchmarks: print figures, never fail on machine speed.", invoke_without_command=True)
app.add_typer(bench_app, name="bench")


@bench_app.callback()
def bench_all(
    ctx: typer.Context,
    full: bool = typer.Option(False, "--full", help="1,000,000 students (default: a quick size)"),
    students: int = typer.Option(None, help="Students for ingest and the reporting province (overrides the size)"),
    cases: int = typer.Option(None, help="Day close → CaseOpened samples (at least 50)"),
    only: str = typer.Option(None, help="Comma-separated sections: ingest,stack,runtime,reporting,registry,scale"),
    replicas: str = typer.Option(None, help="The stack section's copies per process kind, e.g. consumer=3"),
) -> None:
    """Prints ONE table of the headline figures when no sub-command is given (`make bench`)."""
    if ctx.invoked_subcommand is None:
        from bench.suite import main

        main(full=full, students=students, cases=cases, only=only, replicas=replicas)


@bench_app.command("runtime")
def bench_runtime(events: int = typer.Option(50_000, help="Events to append, publish and consume")) -> None:
    """Event store append rate, relay publish rate, consumer apply rate."""
    import platform

    from bench.runtime import bench_runtime as run, print_table

    print_table(f"Runtime on {platform.node()} ({os.cpu_count()} cores)", run(events))


@bench_app.command("relay-latency")
def bench_relay_latency(samples: int = typer.Option(40, min=5, help="Events, one at a time")) -> None:
    """Seconds from an event's commit to its publication by the relay (configured as BAOXUE_RELAY_* says)."""
    from bench.runtime import bench_relay_latency as run, print_table

    settings = ServiceSettings()
    print_table("Relay latency on a quiet store", run(samples, safety_poll_s=settings.relay_safety_poll_s))


def _mount_bench_commands() -> None:
    """Service benchmarks appear as `baoxue bench <service>`."""
    from bench.attendance.ingest import attendance as bench_attendance

    bench_app.command("attendance")(bench_attendance)
    bench_app.command("reporting-rebuild")(bench_reporting_rebuild)
    bench_app.command("onboarding")(bench_onboarding)


def bench_onboarding(students: int = typer.Option(100_000, help="Students bulk-imported into the registry"),
                     replicas: str = typer.Option("", help="Copies per process kind, e.g. consumer=3"),
                     trials: str = typer.Option("1,2,3", help="Then the slowest consumer alone from the whole backlog "
                                                               "with this many replicas each time ('' for none)"),
                     staged: bool = typer.Option(False, help="Start the consumers once the relays have caught up "
                                                             "(each consumer's own capacity, full polls)"),
                     relays: int = typer.Option(1, min=1, max=3, help="Copies of the registry relay (each publishes "
                                                                     "its share of the partitions)")) -> None:
    """Province onboarding: a bulk import, then every relay and consumer until caught up (prints, never fails)."""
    from bench.onboarding import main

    main(students=students, replicas=replicas or None, trials=trials, staged=staged, relays=relays)


def bench_reporting_rebuild(events: int = typer.Option(100_000, help="Synthetic events to load into a throwaway database")) -> None:
    """Loads synthetic events into a throwaway database's inbox and times a full reporting rebuild (prints, never fails)."""
    from bench.reporting.rebuild import run_bench

    typer.echo(run_bench(ServiceSettings().database_url, events))


_mount_bench_commands()


@app.command()
def demo() -> None:
    """Drives the walking skeleton over HTTP against a running stack and prints what happened."""
    from devstack.demo import run_demo

    run_demo()


@app.command("print-settings")
def print_settings() -> None:
    """Prints the effective runtime settings (secrets hidden)."""
    data = ServiceSettings().model_dump(mode="json")
    data["jwt_secret"] = "***"
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


if __name__ == "__main__":  # python -m devstack.cli (when the console script is not installed)
    app()
