"""Where each process of a stack listens, copies included, so tools reach them without reading service settings.

The table itself stays in the runtime's settings (every process reads its own port there); this module re-exports
it and adds the ports of extra copies (`baoxue up --replicas`). A copy is moved by ``BAOXUE_PORT_OFFSET`` (a process
uses the offset for its own port only). Every stack's offset is a multiple of 100 (`baoxue up`: 0; test and
simulator stacks: 1,000–19,900), and its first copies listen on the residues 01–05 of a hundred (the APIs,
8101–8105) and 11–35 (the /metrics of relays, consumers and schedulers, 9111–9135); extra copies take residues no
first copy uses, each role its own blocks of five, so two stacks on one host never meet whatever their offsets and
replica counts (tests/devstack/test_process_plan.py).
"""

from __future__ import annotations

from services.runtime.settings import SERVICE_PORTS, WORKER_METRICS_PORTS

__all__ = ["COPY_BLOCKS", "SERVICE_PORTS", "WORKER_METRICS_PORTS", "api_port", "copy_shift", "max_copies",
           "metrics_port"]

FIRST_BLOCK = {"api": 1, "relay": 11, "consumer": 21, "scheduler": 31}  # residue of each role's first copies
# residues (first of five: registry, attendance, casework, notifications, reporting) of copies 2, 3, ...
COPY_BLOCKS = {
    "consumer": (36, 41, 46, 51, 56),
    "relay": (61, 66),
    "scheduler": (71, 76),
    "api": (81, 86, 91, 6),
}


def max_copies(role: str) -> int:
    """How many copies of one process of this role a stack can run (its first and the extra blocks)."""
    return 1 + len(COPY_BLOCKS[role])


def copy_shift(role: str, copy: int) -> int:
    """Added to the stack's port offset for copy ``copy`` (1 = the first) of a process of this role."""
    if copy == 1:
        return 0
    if not 2 <= copy <= max_copies(role):
        raise ValueError(f"at most {max_copies(role)} copies of a {role} process (asked for copy {copy})")
    return COPY_BLOCKS[role][copy - 2] - FIRST_BLOCK[role]


def api_port(service: str, offset: int = 0, copy: int = 1) -> int:
    """The HTTP port of copy ``copy`` of a service's API in a stack at ``offset``."""
    return SERVICE_PORTS[service] + offset + copy_shift("api", copy)


def metrics_port(service: str, role: str, offset: int = 0, copy: int = 1) -> int:
    """The /metrics port of copy ``copy`` of a service's relay, consumer or scheduler in a stack at ``offset``."""
    return WORKER_METRICS_PORTS[(service, role)] + offset + copy_shift(role, copy)
