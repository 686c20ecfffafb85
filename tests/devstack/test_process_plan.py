"""The process plan of `baoxue up` / `baoxue simulate` with replicas: the right processes, each on ports of its own,
in this stack and against any other stack on the host."""

from __future__ import annotations

import importlib

import pytest

from devstack.catalog import SERVICES, service_roles
from devstack.ports import SERVICE_PORTS, WORKER_METRICS_PORTS, api_port, max_copies, metrics_port
from devstack.stack import MULTI_WORKER_APIS, ROLE_KINDS, api_ports, parse_replicas, service_processes
from services.runtime.settings import ServiceSettings


def own_port(spec, offset: int) -> int:
    """The one port a process listens on, read back from the environment the plan gives it."""
    process_offset = int(spec.env.get("BAOXUE_PORT_OFFSET", offset))
    if spec.role == "api":
        return SERVICE_PORTS[spec.service] + process_offset
    return WORKER_METRICS_PORTS[(spec.service, spec.role)] + process_offset


def test_one_copy_each_is_the_plan_of_before() -> None:
    specs = service_processes()
    assert [s.name for s in specs] == [f"{svc}-{role}" for svc in SERVICES for role in service_roles(svc)]
    assert all(s.copy == 1 and s.port_shift == 0 and "BAOXUE_PORT_OFFSET" not in s.env for s in specs)
    assert service_processes(replicas={}) == specs


def test_replicas_give_distinct_processes_and_ports() -> None:
    replicas = {"consumer": 3, "api": 2, "relay": 2, "scheduler": 2}
    offset = 4200
    specs = service_processes(env={"X": "1"}, replicas=replicas, port_offset=offset)
    by_role = {role: [s for s in specs if s.role == role] for role in ROLE_KINDS}
    per_role = {role: [svc for svc in SERVICES if role in service_roles(svc)] for role in ROLE_KINDS}
    for role in ("consumer", "relay", "scheduler"):
        assert len(by_role[role]) == replicas[role] * len(per_role[role])
    # the attendance API runs its copies as uvicorn workers on its one port; the other APIs as processes
    assert len(by_role["api"]) == 2 * (len(per_role["api"]) - len(MULTI_WORKER_APIS)) + len(MULTI_WORKER_APIS)
    attendance_api = [s for s in by_role["api"] if s.service == "attendance"]
    assert [s.env.get("BAOXUE_API_WORKERS") for s in attendance_api] == ["2"]
    assert len({s.name for s in specs}) == len(specs)
    ports = [own_port(s, offset) for s in specs]
    assert len(set(ports)) == len(ports)
    assert {"casework-consumer", "casework-consumer-2", "casework-consumer-3"} <= {s.name for s in specs}
    assert all(s.env["X"] == "1" for s in specs)
    for s in specs:  # the port each process gets is the one the tools look for
        want = api_port(s.service, offset, s.copy) if s.role == "api" else metrics_port(s.service, s.role, offset, s.copy)
        assert own_port(s, offset) == want
    assert api_ports(specs, offset)["registry"] == [8101 + offset, api_port("registry", offset, 2)]
    assert api_ports(specs, offset)["attendance"] == [8102 + offset]


def test_no_two_stacks_on_a_host_share_a_port() -> None:
    """Stacks run at offsets that are multiples of 100 (0 for `baoxue up`, 1,000–19,900 for tests): with every
    kind at its most copies, no port of one is a port of another."""
    most = {role: max_copies(role) for role in ROLE_KINDS}
    seen: dict[int, tuple[int, str]] = {}
    for offset in range(0, 20_000, 100):
        for plan in (most, {}):
            for spec in service_processes(replicas=plan, port_offset=offset):
                port = own_port(spec, offset)
                other = seen.setdefault(port, (offset, spec.name))
                assert other[0] == offset, f"{spec.name} at offset {offset} and {other[1]} at {other[0]}: {port}"


def test_replica_counts_are_parsed_and_bounded() -> None:
    assert parse_replicas("consumer=3, api=2,relay=2,scheduler=2") == {"consumer": 3, "api": 2, "relay": 2,
                                                                       "scheduler": 2}
    assert parse_replicas("") == parse_replicas(None) == {}
    for bad in ("worker=2", "consumer=0", "consumer=two", f"relay={max_copies('relay') + 1}"):
        with pytest.raises(ValueError):
            parse_replicas(bad)


def test_every_api_can_run_workers_and_the_plan_uses_them_only_where_it_says() -> None:
    """Every service's API runs BAOXUE_API_WORKERS uvicorn workers (runtime ``run_api`` with an ``api_factory``);
    the dev stack runs copies of the APIs in MULTI_WORKER_APIS as workers on one port, the others as processes on
    ports of their own (so both ways are exercised)."""
    for service in SERVICES:
        module = importlib.import_module(f"services.{service}.bootstrap")
        assert callable(getattr(module, "api_factory", None)), service
        settings = importlib.import_module(f"services.{service}.settings")
        assert any(isinstance(v, type) and issubclass(v, ServiceSettings) and "api_workers" in v.model_fields
                   for v in vars(settings).values()), service
    assert MULTI_WORKER_APIS and MULTI_WORKER_APIS < set(SERVICES)


def test_baoxue_up_refuses_a_bad_replica_count_before_starting_anything() -> None:
    from typer.testing import CliRunner

    from devstack.cli import app

    result = CliRunner().invoke(app, ["up", "--replicas", "workers=2"])
    assert result.exit_code == 2 and "unknown process kind" in result.output
