"""The whole system as a process plan: local infrastructure first, then every service process.

`baoxue up` runs the plan under honcho (Ctrl-C stops everything); the end-to-end tests run the same
plan as separate processes they can kill and restart one by one.
"""

from __future__ import annotations

import shlex
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from devstack.catalog import SERVICES, service_roles
from services.runtime.settings import ServiceSettings

LOCAL_PG_PORT = 55432
LOCAL_BROKER_PORT = 59092


@dataclass(frozen=True)
class ProcessSpec:
    """One supervised process: a name, its command and its extra environment."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


def baoxue_command() -> list[str]:
    """How to invoke the ``baoxue`` command from the current interpreter."""
    exe = Path(sys.executable).with_name("baoxue")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "devstack.cli"]


def service_processes(env: dict[str, str] | None = None) -> list[ProcessSpec]:
    """Every service's processes (api, relay, consumer, scheduler) as each bootstrap declares them."""
    specs = []
    for service in SERVICES:
        roles = service_roles(service)
        for role in roles:
            specs.append(ProcessSpec(f"{service}-{role}", baoxue_command() + ["run", service, role], dict(env or {})))
    return specs


def up(only_infra: bool = False) -> None:
    """Starts infrastructure (unless configured), then every service under honcho; prints where to look."""
    from honcho.manager import Manager
    from honcho.printer import Printer

    from services.runtime.infra import EmbeddedPostgres, TansuBroker

    data_dir = Path(os.environ.get("BAOXUE_DATA_DIR", "var")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env: dict[str, str] = {"BAOXUE_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    postgres = broker = None
    if not os.environ.get("BAOXUE_DATABASE_URL"):
        postgres = EmbeddedPostgres(data_dir / "postgres", LOCAL_PG_PORT)
        postgres.start(reuse=True)
        env["BAOXUE_DATABASE_URL"] = postgres.ensure_database("baoxue")
    if not os.environ.get("BAOXUE_KAFKA_BOOTSTRAP"):
        broker = TansuBroker(LOCAL_BROKER_PORT)
        broker.start()
        env["BAOXUE_KAFKA_BOOTSTRAP"] = broker.bootstrap
    os.environ.update(env)
    settings = ServiceSettings()
    try:
        print_addresses(settings, env)
        if only_infra:
            input("Infrastructure is up; press Enter to stop.\n")
            return
        manager = Manager(Printer(sys.stdout))
        for spec in service_processes():
            manager.add_process(spec.name, "exec " + shlex.join(spec.argv), env={**os.environ, **spec.env})
        manager.loop()
    finally:
        if broker is not None:
            broker.stop()
        if postgres is not None:
            postgres.stop()


def print_addresses(settings: ServiceSettings, env: dict[str, str]) -> None:
    """Tells the user where each API, its docs and its metrics are."""
    width = shutil.get_terminal_size((100, 20)).columns
    print("=" * min(width, 100))
    print("Baoxue (保学) is starting.")
    print(f"  PostgreSQL : {settings.database_url}")
    print(f"  Kafka      : {settings.kafka_bootstrap}")
    for service in SERVICES:
        base = f"http://{settings.host}:{settings.http_port(service)}"
        print(f"  {service:<13}: {base}/docs  (metrics {base}/metrics, health {base}/readyz)")
    print("  Tokens     : .venv/bin/baoxue dev-token --role county_officer --jurisdiction 520102")
    print("  Walk-through: .venv/bin/baoxue demo   (in another terminal)")
    print("=" * min(width, 100))
