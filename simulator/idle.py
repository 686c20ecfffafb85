"""What a quiet stack costs: CPU seconds per process of a whole stack left alone for a while.

`python -m simulator.idle --seconds 30` starts a stack of its own (embedded PostgreSQL, a tansu broker, every
service process, the simulator's settings), sets up a small province through the public APIs (so schedulers
have schools and counties to look at), waits for the work that caused to settle, then measures each process's
CPU time (user + system, its children included) over the window and prints one table. PostgreSQL (every
backend) and the broker are measured too: a polling process costs them CPU as well. Figures, never asserted.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path

import psutil
import typer

app = typer.Typer(help="CPU of an idle stack, per process.", invoke_without_command=True, no_args_is_help=False)

SIMULATOR_ENV = {  # as `baoxue simulate` runs its stack
    "BAOXUE_FOLLOW_UP_DAYS": "10", "BAOXUE_INGEST_RATE_PER_S": "1000", "BAOXUE_INGEST_BURST": "1000",
    "BAOXUE_SCHEDULER_INTERVAL_S": "1",
}


def cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU seconds of a process and each of its descendants, by pid (gone ones left out)."""
    out: dict[int, float] = {}
    try:
        root = psutil.Process(pid)
        procs = [root] + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return out
    for proc in procs:
        try:
            t = proc.cpu_times()
            out[proc.pid] = t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return out


def measure(pids: dict[str, int], seconds: float) -> dict[str, float]:
    """CPU seconds each named process tree used over the window (a process born inside it counts from zero)."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(seconds)
    used = {}
    for name, pid in pids.items():
        after = cpu_seconds(pid)
        used[name] = sum(max(0.0, t - before[name].get(p, 0.0)) for p, t in after.items())
    return used


def print_table(used: dict[str, float], seconds: float) -> None:
    width = max(len(n) for n in used)
    print(f"{'process':<{width}}  CPU s in {seconds:.0f} s   % of one core")
    for name, cpu in sorted(used.items(), key=lambda kv: -kv[1]):
        print(f"{name:<{width}}  {cpu:>14.2f}   {100 * cpu / seconds:>12.1f}")
    total = sum(used.values())
    print(f"{'total':<{width}}  {total:>14.2f}   {100 * total / seconds:>12.1f}")


@app.callback()
def idle(
    seconds: float = typer.Option(30.0, min=1, help="Length of the measured window"),
    settle: float = typer.Option(20.0, min=0, help="Wait this long after setup before measuring"),
    province: bool = typer.Option(True, help="Set up a small province first (2 counties, 8 schools, 2,000 students)"),
    keep: bool = typer.Option(False, help="Keep the stack's folder (logs) afterwards"),
) -> None:
    """Starts a stack, lets it go quiet, prints CPU seconds per process over the window."""
    from devstack.harness import LocalStack
    from simulator.api import Api
    from simulator.clock import write_clock
    from simulator.run import Options, Simulation

    workdir = Path(tempfile.mkdtemp(prefix="baoxue-idle-"))
    local = LocalStack(workdir, extra_env=SIMULATOR_ENV)
    options = Options()
    try:
        write_clock(local.clock_file, datetime.fromisoformat(f"{options.start}T00:00:00+08:00"))
        stack = local.start()
        if province:
            api = Api({s: stack.url(s) for s in ("registry", "attendance", "casework", "notifications", "reporting")})
            Simulation(api, options, lambda at: write_clock(local.clock_file, at)).setup()
        time.sleep(settle)
        pids = {name: proc.pid for name, proc in stack.procs.items()}
        pids["postgresql (all backends)"] = local.postgres.pid  # type: ignore[union-attr]
        pids["tansu broker"] = local.broker.pid  # type: ignore[assignment]
        print_table(measure(pids, seconds), seconds)
    finally:
        local.close()
        if keep:
            print(f"logs in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    app()
