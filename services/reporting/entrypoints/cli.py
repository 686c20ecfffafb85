"""``baoxue reporting ...``: rebuild the projections, reset the consumer's positions, benchmark the rebuild, seal
and restate monthly reports, create the read-only BI role. The lead mounts this app into the ``baoxue`` command."""

from __future__ import annotations

import time

import typer

app = typer.Typer(help="Reporting (台账与统计): projections, monthly reports, BI feed.", no_args_is_help=True)


def _runtime(role: str):  # noqa: ANN202
    from services.reporting import projections
    from services.reporting.settings import ReportingSettings
    from services.runtime.bootstrap import build_runtime

    settings = ReportingSettings()
    runtime = build_runtime("reporting", role, settings)
    projections.install(runtime.db)
    return runtime, settings


@app.command()
def rebuild(quiet: bool = typer.Option(False, help="No progress bar")) -> None:
    """Drops every reporting projection and rebuilds it from the inbox (the consumed event history)."""
    from services.reporting.bootstrap import reports_for
    from services.reporting.rebuild import rebuild as run

    runtime, settings = _runtime("cli")
    result = run(runtime.db, show_progress=not quiet)
    reports = reports_for(runtime, settings).rebuild_index()
    typer.echo(f"重建完成 rebuilt: {result.events} events → {result.rows} rows in {result.seconds:.2f} s "
               f"({result.events_per_second:,.0f} events/s); monthly report index: {reports} reports")


@app.command("reset-positions")
def reset_positions(yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation")) -> None:
    """Forgets the reporting consumer's positions so it re-reads its topics (once, for a database that ran before
    the inbox existed). Stop the reporting consumer first; rebuild afterwards is not needed."""
    from services.reporting.consumers import ConsumerRunning
    from services.reporting.consumers import reset_positions as reset

    runtime, _ = _runtime("cli")
    if not yes:
        typer.confirm("重置报表消费位置？消费者将从头重读各主题（收件箱已有的事件不会重复计入）", abort=True)
    try:
        removed = reset(runtime.db)
    except ConsumerRunning as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"已重置 reset: {removed['consumer_positions']} positions, {removed['consumer_offsets']} offset hints; "
               "start the reporting consumer to re-read the topics")


@app.command("bench-rebuild")
def bench_rebuild(events: int = typer.Option(100_000, help="Synthetic events to load into a scratch schema")) -> None:
    """Loads synthetic events into a scratch schema's inbox and times a full rebuild (prints, never fails)."""
    from services.reporting.bench import run_bench

    runtime, _ = _runtime("bench")
    typer.echo(run_bench(runtime.settings.database_url, events))


@app.command()
def seal(month: str = typer.Argument(..., help="YYYY-MM"), root: str = typer.Option("", help="Jurisdiction prefix")) -> None:
    """Seals a month's reports for every unit not sealed yet."""
    from services.reporting.bootstrap import reports_for

    runtime, settings = _runtime("cli")
    typer.echo(f"sealed {reports_for(runtime, settings).seal(month, root)} reports for {month}")


@app.command()
def restate(month: str = typer.Argument(..., help="YYYY-MM"), root: str = typer.Option("")) -> None:
    """Records restatements where a sealed month's figures differ from what is known now."""
    from services.reporting.bootstrap import reports_for

    runtime, settings = _runtime("cli")
    typer.echo(f"restated {reports_for(runtime, settings).restate(month, root)} reports for {month}")


@app.command("bi-role")
def bi_role(name: str = typer.Option("baoxue_bi", help="Login role to create or update"),
            password: str = typer.Option(..., prompt=True, hide_input=True, help="Its password")) -> None:
    """Creates a login role that can read only the documented ``bi`` schema."""
    from services.reporting import bi

    runtime, _ = _runtime("cli")
    started = time.perf_counter()
    with runtime.db.transaction() as conn:
        bi.create_reader(conn, name, password)
    typer.echo(f"role {name} may read schema bi ({time.perf_counter() - started:.2f} s)")
