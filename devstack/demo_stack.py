"""`make demo`: the whole stack (`baoxue up`) in the background, the walk-through (`baoxue demo`) against it,
then the dashboard address; the stack keeps running until Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from services.runtime.settings import ServiceSettings
from devstack.catalog import SERVICES
from devstack.stack import baoxue_command


def wait_ready(settings: ServiceSettings, up: subprocess.Popen, log: Path, timeout_s: float = 180) -> None:
    """Polls every service's /readyz until all answer 200; fails early when the stack exits."""
    pending = set(SERVICES)
    deadline = time.monotonic() + timeout_s
    while pending:
        if up.poll() is not None:
            raise SystemExit(f"`baoxue up` exited with {up.returncode}; last lines of {log}:\n{tail(log)}")
        if time.monotonic() > deadline:
            raise SystemExit(f"not ready after {timeout_s:.0f} s: {', '.join(sorted(pending))}; see {log}\n{tail(log)}")
        for service in sorted(pending):
            try:
                if httpx.get(f"http://{settings.host}:{settings.http_port(service)}/readyz", timeout=2).status_code == 200:
                    pending.discard(service)
                    print(f"  {service:<13} ready", flush=True)
            except httpx.HTTPError:
                pass
        time.sleep(0.5)


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def stop(up: subprocess.Popen) -> None:
    """Ctrl-C to the supervisor's process group (honcho stops the services, then the infrastructure stops)."""
    if up.poll() is None:
        os.killpg(up.pid, signal.SIGINT)
        try:
            up.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()


def main() -> int:
    settings = ServiceSettings()
    data_dir = Path(os.environ.get("BAOXUE_DATA_DIR", "var")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "demo-stack.log"
    print(f"Starting the stack (`baoxue up`); its output goes to {log}", flush=True)
    with open(log, "ab") as out:
        up = subprocess.Popen(baoxue_command() + ["up"], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        wait_ready(settings, up, log)
        print("\nWalk-through (`baoxue demo`):", flush=True)
        subprocess.run(baoxue_command() + ["demo"], check=True)
        base = f"http://{settings.host}:{settings.http_port('reporting')}"
        token = subprocess.run(baoxue_command() + ["dev-token", "--role", "county_officer", "--jurisdiction", "520102"],
                               check=True, capture_output=True, text=True).stdout.strip()
        print("\n" + "=" * 100)
        print(f"Dashboard (数据看板): {base}/ui/dashboard")
        print(f"  sign in at {base}/ui/login with a token, e.g. for county 520102:\n  {token}")
        print(f"Ledger (台账): {base}/ui/ledger   API docs: {base}/docs   Stack log: {log}")
        print("The stack keeps running; Ctrl-C stops it.")
        print("=" * 100, flush=True)
        while up.poll() is None:
            time.sleep(0.5)
        print(f"`baoxue up` exited with {up.returncode}; last lines of {log}:\n{tail(log)}")
        return up.returncode or 1
    except KeyboardInterrupt:
        print("\nStopping the stack ...", flush=True)
        return 0
    except subprocess.CalledProcessError as exc:
        print(f"demo step failed: {exc}; last lines of {log}:\n{tail(log)}", file=sys.stderr)
        return 1
    finally:
        stop(up)


if __name__ == "__main__":
    raise SystemExit(main())
