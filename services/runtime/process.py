"""Running relay and consumer processes: signals, metrics port, clean shutdown."""

from __future__ import annotations

import gc
import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

YOUNG_COLLECTION_EVERY = 50_000  # allocations (net) between young collections; CPython's default is 700


def settle_heap() -> None:
    """Before a consumer's loop: the objects start-up left (modules, pydantic schemas, settings: 170,000-240,000 of
    them) are frozen, so the garbage collector never walks them again, and young collections run less often.

    A consumer keeps a poll's messages and rows (2,000 of each) alive for the poll's transaction, so they survive
    young collections and push CPython into full ones, which walked every object of the process: measured on an
    onboarding (100,000 enrolments), 22-28% of a consumer process's CPU went to the collector (`gc.callbacks`),
    most of it in full collections. Its garbage is freed by reference counts; cycles are still collected."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, 10, 10)


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused for one consumer poll or one relay batch: a poll keeps its 2,000 messages alive until its transaction commits (each with its
    header tuples, envelope, payload and rows: about 25 containers), so young collections ran in the middle of every
    poll and walked them all, only to promote them; what a poll leaves is freed by reference counting once it ends,
    and any cycle at the collector's next pass, after the poll. A relay's batch likewise (its events, headers and
    contracts: the collector was a third of a relay's CPU, measured)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
