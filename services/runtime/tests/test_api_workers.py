"""``run_api`` with ``BAOXUE_API_WORKERS`` > 1 serves one port from several uvicorn worker processes, each building
its own app from the factory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from services.runtime.infra import free_port
from services.runtime.settings import SERVICE_PORTS

ROOT = Path(__file__).resolve().parents[3]
SERVE = (
    "from services.runtime.bootstrap import run_api; from services.runtime.settings import ServiceSettings; "
    "run_api('registry', ServiceSettings(env='test'), build=None, "
    "factory='services.runtime.tests.workers_app:app_factory')"
)


def test_two_api_workers_answer_on_one_port() -> None:
    port = free_port()
    env = {**os.environ, "BAOXUE_API_WORKERS": "2", "BAOXUE_PORT_OFFSET": str(port - SERVICE_PORTS["registry"])}
    server = subprocess.Popen([sys.executable, "-c", SERVE], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pids: set[int] = set()
        deadline = time.monotonic() + 60
        while len(pids) < 2 and time.monotonic() < deadline:
            try:
                with httpx.Client(timeout=2) as client:  # a new connection each time: the kernel spreads them
                    pids.add(client.get(f"http://127.0.0.1:{port}/pid").json()["pid"])
            except httpx.HTTPError:
                time.sleep(0.2)
        assert len(pids) == 2 and server.pid not in pids
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(20)
