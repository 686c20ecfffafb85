"""The process harness of the end-to-end tests; it lives in `devstack.harness` (the simulator starts stacks too)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from services.runtime.infra import TansuBroker, free_port
from devstack.harness import LocalStack, Stack, own_database, wait_until

__all__ = ["LocalStack", "Stack", "own_database", "running_stack", "wait_until"]


@contextmanager
def running_stack(database_url: str, workdir: Path, extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
    """Every service process on a database and a broker of the stack's own; all stopped afterwards."""
    broker = TansuBroker(free_port())
    broker.start()
    try:
        with own_database(database_url) as url:
            stack = Stack(url, broker, workdir, extra_env=extra_env or {})
            try:
                stack.start()
                yield stack
            finally:
                stack.stop()
    finally:
        broker.stop()
