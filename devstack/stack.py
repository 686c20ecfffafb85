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
from devstack.ports import api_port, copy_shift, max_copies
from services.runtime.settings import ServiceSettings

LOCAL_PG_PORT = 55432
LOCAL_BROKER_PORT = 59092


ROLE_KINDS = ("api", "relay", "consumer", "scheduler")
# APIs that serve N uvicorn worker processes on their one port (BAOXUE_API_WORKERS); others run N processes
MULTI_WORKER_APIS = frozenset({"attendance"})


@dataclass(frozen=True)
class ProcessSpec:
    """One supervised process: a name, its command and its extra environment (and which copy of what it is)."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    service: str = ""
    role: str = ""
    copy: int = 1  # 1 = the first copy, named ``{service}-{role}``; copy n > 1 is ``{service}-{role}-{n}``
    port_shift: int = 0  # added to the stack's port offset for this process's own port (devstack.ports)


def baoxue_command() -> list[str]:
    """How to invoke the ``baoxue`` command from the current interpreter."""
    exe = Path(sys.executable).with_name("baoxue")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "devstack.cli"]


def parse_replicas(text: str | None) -> dict[str, int]:
    """``consumer=3,api=2`` -> {"consumer": 3, "api": 2}; unknown kinds, counts below 1 or beyond the ports refused."""
    out: dict[str, int] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        kind, _, count = part.partition("=")
        kind = kind.strip()
        if kind not in ROLE_KINDS:
            raise ValueError(f"unknown process kind {kind!r} (one of {', '.join(ROLE_KINDS)})")
        try:
            n = int(count)
        except ValueError:
            raise ValueError(f"{kind}: {count!r} is not a number of copies") from None
        if not 1 <= n <= max_copies(kind):
            raise ValueError(f"{kind}: between 1 and {max_copies(kind)} copies, not {n}")
        out[kind] = n
    return out


def service_processes(env: dict[str, str] | None = None, replicas: dict[str, int] | None = None,
                      port_offset: int = 0) -> list[ProcessSpec]:
    """Every service's processes (api, relay, consumer, scheduler) as each bootstrap declares them, ``replicas``
    copies of each kind (default one): extra copies listen on ports of their own (``BAOXUE_PORT_OFFSET`` =
    ``port_offset`` + the copy's shift); an API in MULTI_WORKER_APIS runs its copies as uvicorn workers instead."""
    replicas = replicas or {}
    specs = []
    for service in SERVICES:
        for role in service_roles(service):
            argv = baoxue_command() + ["run", service, role]
            count = replicas.get(role, 1)
            if role == "api" and service in MULTI_WORKER_APIS and count > 1:
                specs.append(ProcessSpec(f"{service}-{role}", argv, {**(env or {}), "BAOXUE_API_WORKERS": str(count)},
                                         service, role))
                continue
            for copy in range(1, count + 1):
                shift = copy_shift(role, copy)
                extra = {"BAOXUE_PORT_OFFSET": str(port_offset + shift)} if shift else {}
                name = f"{service}-{role}" + (f"-{copy}" if copy > 1 else "")
                specs.append(ProcessSpec(name, argv, {**(env or {}), **extra}, service, role, copy, shift))
    return specs


def api_ports(specs: list[ProcessSpec], port_offset: int = 0) -> dict[str, list[int]]:
    """Each service's API ports in a plan (one per API process; uvicorn workers share their process's port)."""
    out: dict[str, list[int]] = {}
    for spec in specs:
        if spec.role == "api":
            out.setdefault(spec.service, []).append(api_port(spec.service, port_offset, spec.copy))
    return out


def up(only_infra: bool = False, replicas: dict[str, int] | None = None) -> None:
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
        specs = service_processes(replicas=replicas, port_offset=settings.port_offset)
        print_addresses(settings, env, api_ports(specs, settings.port_offset))
        if only_infra:
            input("Infrastructure is up; press Enter to stop.\n")
            return
        manager = Manager(Printer(sys.stdout))
        for spec in specs:
            manager.add_process(spec.name, "exec " + shlex.join(spec.argv), env={**os.environ, **spec.env})
        manager.loop()
    finally:
        if broker is not None:
            broker.stop()
        if postgres is not None:
            postgres.stop()


def print_addresses(settings: ServiceSettings, env: dict[str, str], ports: dict[str, list[int]] | None = None) -> None:
    """Tells the user where each API, its docs and its metrics are."""
    width = shutil.get_terminal_size((100, 20)).columns
    print("=" * min(width, 100))
    print("Baoxue (保学) is starting.")
    print(f"  PostgreSQL : {settings.database_url}")
    print(f"  Kafka      : {settings.kafka_bootstrap}")
    for service in SERVICES:
        base = f"http://{settings.host}:{settings.http_port(service)}"
        copies = (ports or {}).get(service, [])[1:]
        more = f"; copies on {', '.join(map(str, copies))}" if copies else ""
        print(f"  {service:<13}: {base}/docs  (metrics {base}/metrics, health {base}/readyz{more})")
    print("  Tokens     : .venv/bin/baoxue dev-token --role county_officer --jurisdiction 520102")
    print("  Walk-through: .venv/bin/baoxue demo   (in another terminal)")
    print("=" * min(width, 100))
