"""Running relay and consumer processes: signals, metrics port, clean shutdown."""

from __future__ import annotations

import signal
import threading
from typing import Callable


class StopFlag:
    """Set by SIGTERM or SIGINT; long-running loops poll it and finish cleanly."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def install(self) -> "StopFlag":
        signal.signal(signal.SIGTERM, lambda *_: self._event.set())
        signal.signal(signal.SIGINT, lambda *_: self._event.set())
        return self

    def set(self) -> None:
        self._event.set()

    def __call__(self) -> bool:
        return self._event.is_set()


def run_until_stopped(loop: Callable[[Callable[[], bool]], None]) -> None:
    """Runs a loop (relay or consumer) until SIGTERM/SIGINT."""
    loop(StopFlag().install())
