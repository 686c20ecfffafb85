"""Runs the whole system the way `baoxue up` does — every service process separately, on real
PostgreSQL and a real Kafka-protocol broker — so tests and the simulator can kill and restart any one of them.

(The end-to-end tests' harness, `tests/e2e/harness.py`, re-exports it; the simulator starts its stacks here, since
it may not import the services or their runtime itself.)"""

from __future__ import annotations

import os
import random
from contextlib import contextmanager
from typing import Iterator
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devstack.ports import api_port, metrics_port
from devstack.stack import ProcessSpec, service_processes
from services.runtime.scratchdb import fresh_database


@dataclass
class Stack:
    """Service processes bound to one database and one broker, with logs in a folder."""

    database_url: str
    broker: object  # services.runtime.infra.TansuBroker
    workdir: Path
    port_offset: int = field(default_factory=lambda: random.randrange(1000, 20000, 100))
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    specs: dict[str, ProcessSpec] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    replicas: dict[str, int] = field(default_factory=dict)  # copies per process kind (devstack.stack.ROLE_KINDS)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "BAOXUE_ENV": "test",
            "BAOXUE_DATABASE_URL": self.database_url,
            "BAOXUE_KAFKA_BOOTSTRAP": self.broker.bootstrap,  # type: ignore[attr-defined]
            "BAOXUE_PORT_OFFSET": str(self.port_offset),
            "BAOXUE_DATA_DIR": str(self.workdir),
            "BAOXUE_KAFKA_PARTITIONS": "3",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }

    def url(self, service: str) -> str:
        """The address of the first copy of a service's API."""
        return f"http://127.0.0.1:{api_port(service, self.port_offset)}"

    def urls(self, service: str) -> list[str]:
        """The address of every API process of a service (one unless the plan runs copies on ports of their own)."""
        copies = sorted(s.copy for s in self.plan() if s.service == service and s.role == "api") or [1]
        return [f"http://127.0.0.1:{api_port(service, self.port_offset, c)}" for c in copies]

    def metrics_url(self, service: str, role: str, copy: int = 1) -> str:
        """The /metrics address of a relay, consumer or scheduler process (``copy`` 1 is the first)."""
        return f"http://127.0.0.1:{metrics_port(service, role, self.port_offset, copy)}/metrics"

    def metrics_urls(self, service: str, role: str) -> list[str]:
        """The /metrics address of every copy of a service's relay, consumer or scheduler."""
        copies = sorted(s.copy for s in self.plan() if s.service == service and s.role == role) or [1]
        return [self.metrics_url(service, role, c) for c in copies]

    def plan(self) -> list[ProcessSpec]:
        """The processes this stack runs (or will run)."""
        return list(self.specs.values()) or service_processes(replicas=self.replicas, port_offset=self.port_offset)

    def start(self) -> None:
        for spec in service_processes(replicas=self.replicas, port_offset=self.port_offset):
            self.specs[spec.name] = spec
            self.start_process(spec.name)
        self.wait_ready()

    def start_process(self, name: str) -> None:
        spec = self.specs[name]
        log = open(self.workdir / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(
            spec.argv, env={**self.env(), **spec.env}, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signals the process and everything it started (its own session, as a pod's cgroup: an API's uvicorn
        workers die with their master instead of keeping its port, so the restarted process can bind it)."""
        proc = self.procs[name]
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            proc.send_signal(sig)
        proc.wait(30)

    def restart(self, name: str) -> None:
        self.kill(name)
        self.start_process(name)

    def suspend(self, name: str) -> None:
        """SIGSTOP: the process holds its connections but does nothing (a slow or paused consumer)."""
        self.procs[name].send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGCONT)

    def wait_ready(self, timeout: float | None = None) -> None:
        """Every API answers /readyz; the wait grows with the processes starting at once (5 s each, 90 s at least:
        forty processes importing on two cores take their time, and on a machine shared with other runs (load 20-45)
        an API's uvicorn workers were seen to need more than 2 minutes to import)."""
        deadline = time.monotonic() + (timeout if timeout is not None else max(90.0, 5.0 * len(self.procs)))
        pending = {n: f"http://127.0.0.1:{api_port(self.specs[n].service, self.port_offset, self.specs[n].copy)}"
                   for n in self.procs if self.specs[n].role == "api"}
        while pending and time.monotonic() < deadline:
            for name, url in list(pending.items()):
                try:
                    if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")
            time.sleep(0.2)
        if pending:
            raise RuntimeError(f"not ready: {set(pending)}\n" + "\n".join(self.log_tail(n) for n in pending))

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.workdir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def unclean_exits(self) -> dict[str, int]:
        """Processes that died on their own (not killed by the test)."""
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None and p.returncode not in (0, -9, -15)}


@contextmanager
def own_database(server_url: str) -> Iterator[str]:
    """A database of the stack's own on the same server: other tests' rows must not look like history."""
    with fresh_database(server_url, "baoxue_e2e") as url:
        yield url


def wait_until(predicate, timeout: float = 30, interval: float = 0.1):
    """Polls until the predicate returns something truthy; returns it (or the last falsy value)."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


class LocalStack:
    """A whole stack of its own: an embedded PostgreSQL (unless a server URL is given), a tansu broker, a fresh
    database, every service process and a shared simulated clock file; `close()` stops and removes it all."""

    def __init__(self, workdir: Path, extra_env: dict[str, str] | None = None, server_url: str | None = None,
                 replicas: dict[str, int] | None = None) -> None:
        from services.runtime.infra import EmbeddedPostgres, TansuBroker, free_port

        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.clock_file = self.workdir / "clock"
        self.postgres = None if server_url else EmbeddedPostgres(self.workdir / "pg", free_port())
        self.server_url = server_url
        self.broker = TansuBroker(free_port())
        self.extra_env = {"BAOXUE_CLOCK_FILE": str(self.clock_file), **(extra_env or {})}
        self.replicas = dict(replicas or {})
        self.stack: Stack | None = None
        self._database = None

    def start(self) -> Stack:
        if self.postgres is not None:
            self.postgres.start()
            self.server_url = self.postgres.url()
        self.broker.start()
        self._database = own_database(self.server_url)  # type: ignore[arg-type]
        url = self._database.__enter__()
        (self.workdir / "logs").mkdir(exist_ok=True)
        self.stack = Stack(url, self.broker, self.workdir / "logs", extra_env=self.extra_env, replicas=self.replicas)
        self.stack.start()
        return self.stack

    def restart_broker(self) -> None:
        """The in-memory broker loses every topic; relays refill it."""
        self.broker.stop()
        self.broker.start()

    def restart_postgres(self) -> None:
        """SIGKILL the postmaster (a crash), then start it again on the same data (crash recovery)."""
        if self.postgres is None:
            return
        pid = self.postgres.pid
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.postgres.stop()
        self.postgres.start()

    def close(self) -> None:
        if self.stack is not None:
            self.stack.stop()
        if self._database is not None:
            try:
                self._database.__exit__(None, None, None)
            except Exception:  # noqa: BLE001 - the server may be gone already
                pass
        self.broker.stop()
        if self.postgres is not None:
            self.postgres.stop()
