"""Channel adapters: how a message reaches a person. Each is idempotent on the notification id,
because the consumer may call it again after a crash between sending and saving (at-least-once)."""

from __future__ import annotations

import fcntl
import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Protocol


class Channel(Protocol):
    """Delivers a text to a recipient; sending the same notification id twice delivers it once."""

    name: str

    def send(self, notification_id: str, recipient_id: str, text: str) -> None: ...


class FileChannel:
    """Appends one JSON line per notification to ``{data_dir}/notifications/outbox.jsonl`` (local runs)."""

    name = "file"

    def __init__(self, data_dir: Path, now: Callable[[], datetime]) -> None:
        self.path = Path(data_dir) / "notifications" / "outbox.jsonl"
        self.now = now
        self._sent: set[str] | None = None
        self._lock = threading.Lock()

    def _load(self) -> set[str]:
        if self._sent is None:
            self._sent = set()
            if self.path.exists():
                for line in self.path.read_text(encoding="utf-8").splitlines():
                    if line.strip():
                        self._sent.add(json.loads(line)["notification_id"])
        return self._sent

    def send(self, notification_id: str, recipient_id: str, text: str) -> None:
        with self._lock:
            sent = self._load()
            if notification_id in sent:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            line = json.dumps(
                {
                    "notification_id": notification_id,
                    "recipient_id": recipient_id,
                    "text": text,
                    "written_at": self.now().isoformat(),
                },
                ensure_ascii=False,
            )
            with self.path.open("a", encoding="utf-8") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                fh.write(line + "\n")
                fh.flush()
            sent.add(notification_id)

    def lines(self) -> list[dict[str, Any]]:
        """What the outbox holds (for tests and the demo)."""
        if not self.path.exists():
            return []
        return [json.loads(x) for x in self.path.read_text(encoding="utf-8").splitlines() if x.strip()]


class LogChannel:
    """Writes the message to the structured log; duplicates are suppressed within one process."""

    name = "log"

    def __init__(self, logger: Any) -> None:
        self.log = logger.bind(component="channel", channel=self.name)
        self._sent: set[str] = set()

    def send(self, notification_id: str, recipient_id: str, text: str) -> None:
        if notification_id in self._sent:
            return
        self.log.info("notification_delivered", notification_id=notification_id, recipient_id=recipient_id, text=text)
        self._sent.add(notification_id)
