"""``baoxue reporting ...``, the operators' commands: rebuild the projections, reset the consumer's positions, seal
and restate monthly reports, create the read-only BI role. The bootstrap builds it (``build_cli``) with what the
commands work on; devstack mounts it into the ``baoxue`` command. The rebuild benchmark is `baoxue bench`'s."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import typer

from services.reporting.adapters import bi
from services.reporting.adapters.positions import ConsumerRunning, reset_positions
from services.reporting.adapters.rebuild import rebuild as run_rebuild
from services.reporting.application.monthly import MonthlyReports
from services.runtime.db import Database


@dataclass(frozen=True)
class Operator:
    """The database (read models installed) and the monthly report use cases, built only when a command needs them."""

    db: Database
    monthly: Callable[[], MonthlyReports]


def build_cli(operator: Callable[[str], Operator]) -> typer.Typer:
    """The command group; ``operator(role)`` composes what a command works on, when it runs."""
    app = typer.Typer(help="Reporting (台账与统计): projections, monthly reports, BI feed.", no_args_is_help=True)

    @app.command()
    def rebuild(quiet: bool = typer.Option(False, help="No progress bar")) -> None:
        """Drops every reporting projection and rebuilds it from the inbox (the consumed event history)."""
        ops = operator("cli")
        result = run_rebuild(ops.db, show_progress=not quiet)
        reports = ops.monthly().rebuild_index()
        typer.echo(f"重建完成 rebuilt: {result.events} events → {result.rows} rows in {result.seconds:.2f} s "
                   f"({result.events_per_second:,.0f} events/s); monthly report index: {reports} reports")

    @app.command("reset-positions")
    def reset(yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation")) -> None:
        """Forgets the reporting consumer's positions so it re-reads its topics (once, for a database that ran before
        the inbox existed). Stop the reporting consumer first; rebuild afterwards is not needed."""
        ops = operator("cli")
        if not yes:
            typer.confirm("重置报表消费位置？消费者将从头重读各主题（收件箱已有的事件不会重复计入）", abort=True)
        try:
            removed = reset_positions(ops.db)
        except ConsumerRunning as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from exc
        typer.echo(f"已重置 reset: {removed['consumer_positions']} positions, {removed['consumer_offsets']} offset hints; "
                   "start the reporting consumer to re-read the topics")

    @app.command()
    def seal(month: str = typer.Argument(..., help="YYYY-MM"),
             root: str = typer.Option("", help="Jurisdiction prefix")) -> None:
        """Seals a month's reports for every unit not sealed yet."""
        typer.echo(f"sealed {operator('cli').monthly().seal(month, root)} reports for {month}")

    @app.command()
    def restate(month: str = typer.Argument(..., help="YYYY-MM"), root: str = typer.Option("")) -> None:
        """Records restatements where a sealed month's figures differ from what is known now."""
        typer.echo(f"restated {operator('cli').monthly().restate(month, root)} reports for {month}")

    @app.command("bi-role")
    def bi_role(name: str = typer.Option("baoxue_bi", help="Login role to create or update"),
                password: str = typer.Option(..., prompt=True, hide_input=True, help="Its password")) -> None:
        """Creates a login role that can read only the documented ``bi`` schema."""
        ops = operator("cli")
        started = time.perf_counter()
        with ops.db.transaction() as conn:
            bi.create_reader(conn, name, password)
        typer.echo(f"role {name} may read schema bi ({time.perf_counter() - started:.2f} s)")

    return app
