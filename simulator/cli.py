"""`baoxue simulate`: a synthetic province driven through a term on a simulated clock, reconciled against
the ground truth; `--faults` runs the fault campaign during it. Exits non-zero on any difference."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Optional

import typer

SERVICES = ("registry", "attendance", "casework", "notifications", "reporting")
app = typer.Typer(help="Province simulator (模拟): a term through the public APIs, reconciled exactly.",
                  invoke_without_command=True, no_args_is_help=False)


@app.callback()
def simulate(
    counties: int = typer.Option(2, min=1, help="Counties (real GB/T 2260 codes under --province)"),
    schools_per_county: int = typer.Option(4, min=1),
    students: int = typer.Option(2000, min=10, help="Registered students in the whole province"),
    days: int = typer.Option(20, min=4, help="School days to simulate"),
    start: str = typer.Option("2026-09-14", help="First school day of the term (YYYY-MM-DD)"),
    seed: int = typer.Option(7),
    province: str = typer.Option("52", help="Province code prefix whose divisions are loaded"),
    faults: bool = typer.Option(False, "--faults", help="Kill and restart every process, broker and PostgreSQL; "
                                                         "duplicate, late and poison messages"),
    url: Optional[list[str]] = typer.Option(None, "--url", help="service=http://host:port of a running stack "
                                                                   "(all five); then the clock file is --clock-file"),
    clock_file: Optional[Path] = typer.Option(None, help="With --url: the BAOXUE_CLOCK_FILE the stack reads"),
    database_url: Optional[str] = typer.Option(None, help="A PostgreSQL server to use instead of an embedded one"),
    keep: bool = typer.Option(False, help="Keep the stack's folder (logs) afterwards"),
    all_rows: bool = typer.Option(False, "--all-rows", help="Print every row, not only differences and a summary"),
    transfer_hazard: float = typer.Option(0.0003, min=0, help="Per school day: a student moves to another school"),
    dropout_hazard: float = typer.Option(0.00005, min=0, max=1, help="Per school day: a student stops coming "
                                         "(×4 in special groups, ×2 in junior grades); 0.00005 is ~0.9 %% a year "
                                         "for a primary child outside the special groups (the 2016 plan's ceiling "
                                         "is 1 %%), 0.0003 is ~5 %% of children a term, 0.0015 a stress test "
                                         "(~20 %% a term)"),
    illness_rate: float = typer.Option(0.01, min=0, max=1, help="Per school day: a student falls ill (1–3 days; "
                                       "most ask for sick leave)"),
    admitted: int = typer.Option(4, min=0, help="Summer primary graduates per county admitted to a junior school"),
    missed_transitions: int = typer.Option(2, min=0, help="Summer primary graduates per county never admitted"),
    workers: int = typer.Option(8, min=1, help="Concurrent API calls (independent cases, leaves, check-in batches)"),
    replicas: str = typer.Option("", help="Copies per process kind in the stack of its own, e.g. consumer=2,api=2 "
                                          "(API calls spread over the copies)"),
) -> None:
    """Runs the simulation and prints expected vs reported per county and measure."""
    from tqdm import tqdm

    from devstack.stack import parse_replicas
    from simulator.api import Api
    from simulator.clock import write_clock
    from simulator.run import Options, Simulation
    from simulator.truth import table

    options = Options(counties=counties, schools_per_county=schools_per_county, students=students, days=days,
                      start=date.fromisoformat(start), seed=seed, province=province,
                      barrier_timeout=150.0 if faults else 90.0, transfer_hazard=transfer_hazard,
                      dropout_hazard=dropout_hazard, illness_rate=illness_rate,
                      admitted_per_county=admitted, missed_transitions_per_county=missed_transitions, workers=workers)
    if faults and url:
        raise typer.BadParameter("--faults needs a stack of its own (no --url)")
    if replicas and url:
        raise typer.BadParameter("--replicas shapes a stack of its own (no --url)")
    try:
        copies = parse_replicas(replicas)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--replicas") from exc
    local = None
    workdir = Path(tempfile.mkdtemp(prefix="baoxue-sim-"))
    started = time.monotonic()
    try:
        if url:
            urls: dict[str, str | list[str]] = dict(u.split("=", 1) for u in url)
            if clock_file is None:
                raise typer.BadParameter("--url needs --clock-file (the stack's BAOXUE_CLOCK_FILE)")
            path = clock_file
        else:
            from devstack.harness import LocalStack

            typer.echo(f"starting a stack in {workdir} ...")
            local = LocalStack(workdir, extra_env={
                "BAOXUE_FOLLOW_UP_DAYS": "10", "BAOXUE_INGEST_RATE_PER_S": "1000", "BAOXUE_INGEST_BURST": "1000",
                "BAOXUE_SCHEDULER_INTERVAL_S": "1", "BAOXUE_REPORTING_SEAL_CHECK_S": "1"}, server_url=database_url, replicas=copies)
            write_clock(local.clock_file, datetime.fromisoformat(f"{start}T00:00:00+08:00"))
            stack = local.start()
            urls = {s: stack.urls(s) for s in SERVICES}
            path = local.clock_file
        api = Api(urls, retry_for=300 if faults else 60)
        hooks = None
        if faults:
            from simulator.faults import FaultCampaign

            hooks = FaultCampaign(local, days)  # type: ignore[arg-type]
        with tqdm(total=days, desc="school days", unit="day", file=sys.stderr) as bar:
            sim = Simulation(api, options, lambda at: write_clock(path, at), hooks=hooks, progress=bar)
            bar.set_description("setting up the province")
            sim.setup()
            bar.set_description("school days")
            sim.run_term()
        rows = sim.reconcile()
        if hooks is not None:
            rows += hooks.rows()
        elapsed = time.monotonic() - started
        differences = [r for r in rows if not r.ok]
        typer.echo(table(rows if all_rows or len(rows) <= 400 else differences))
        s = sim.stats
        waits = sorted(s.barrier_waits) or [0.0]
        typer.echo(f"\n{len(sim.truth.students):,} students in {len(sim.counties)} counties "
                   f"({', '.join(c.code + ' ' + c.name for c in sim.counties)}), {days} school days, "
                   f"{sum(len(x.cases) for x in sim.truth.students.values())} cases, {s.checkins:,} check-ins, "
                   f"{s.leaves} leaves, {s.transfers} transfers; {api.calls:,} API calls ({api.retries} retried); "
                   f"catch-up wait p50 {waits[len(waits) // 2]:.2f} s, max {waits[-1]:.2f} s "
                   f"({', '.join(f'{w} s {label}' for w, label in s.slowest_waits)}); {elapsed:.0f} s in all")
        typer.echo("wall time by phase: " + ", ".join(f"{k} {v:.0f} s" for k, v in s.phases.items()))
        typer.echo("setup by step: " + ", ".join(f"{k} {v:.0f} s" for k, v in s.setup_phases.items()))
        if hooks is not None:
            typer.echo("faults: " + "; ".join(hooks.done))
        for note in s.absence_diffs[:20]:
            typer.echo(f"absence counted otherwise: {note}", err=True)
        for note in s.barrier_timeouts:
            typer.echo(f"not caught up in time: {note}", err=True)
        for note in s.api_errors[:20]:
            typer.echo(f"API refused: {note}", err=True)
        if differences or s.api_errors:
            typer.echo(f"RECONCILIATION FAILED: {len(differences)} difference(s), {len(s.api_errors)} refused call(s)",
                       err=True)
            raise typer.Exit(1)
        typer.echo("RECONCILED: every figure matches the ground truth")
    finally:
        if local is not None:
            local.close()
        if keep:
            typer.echo(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:  # python -m simulator.cli
    app()


if __name__ == "__main__":
    main()
