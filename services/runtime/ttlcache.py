"""A bounded in-process cache whose entries may be stale for ``ttl_s``: for what API workers may each keep
(keys, settings, facts read from PostgreSQL) when every worker seeing a change within ``ttl_s`` is correct."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """``get(key, load)``: the value loaded at most ``ttl_s`` ago, else ``load(key)`` (kept; least recently used
    entries beyond ``max_entries`` dropped). ``forget(key)`` after this process changed the value itself."""

    def __init__(self, ttl_s: float, max_entries: int = 10_000, now: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.now = now
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, load: Callable[[K], V]) -> V:
        now = self.now()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and now - hit[0] < self.ttl_s:
                self._entries.move_to_end(key)
                return hit[1]
        value = load(key)  # outside the lock: a slow load does not hold up other keys
        with self._lock:
            self._entries[key] = (now, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def forget(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)
