"""Child processes of the local infrastructure: free ports, scratch folders, log tails, stopping, dying with the parent."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

START_TIMEOUT = 30.0  # seconds to wait for a server to accept connections
STOP_TIMEOUT = 15.0  # seconds to wait for a clean shutdown before SIGKILL


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free right now, so parallel runs do not collide on fixed ports."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _ensure_port_free(host: str, port: int) -> None:
    """Fail clearly if something listens there already: we could mistake it for the server we are starting."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT from a previous run is fine
        try:
            sock.bind((host, port))
        except OSError as error:
            raise RuntimeError(f"cannot start a server on {host}:{port}: {error}") from error


@contextmanager
def scratch_dir(prefix: str = "baoxue-") -> Iterator[Path]:
    """A temporary dir for a test server's data, removed afterwards; see EmbeddedPostgres on why not tmp_path."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _tail(path: Path, lines: int = 40) -> str:
    """Return the end of a log file, to put the server's own explanation into our error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop_process(proc: subprocess.Popen, sig: int, timeout: float = STOP_TIMEOUT) -> None:
    """Ask a child to exit with `sig`, then SIGKILL it if it is still alive after `timeout`."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _die_with_parent():
    """A preexec_fn that makes the child get SIGINT (fast shutdown) if its supervisor is SIGKILLed (Linux)."""
    if sys.platform != "linux":
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child may run as a user without access
    PR_SET_PDEATHSIG = 1
    return lambda: prctl(PR_SET_PDEATHSIG, signal.SIGINT)
