"""Per-client token buckets: one attendance system cannot crowd out the others at the morning peak."""

from __future__ import annotations

import threading
import time
from typing import Callable


class RateLimited(Exception):
    """A client sent more requests than its bucket allows; ``retry_after`` seconds until the next token."""

    code = "rate_limited"
    rule = "client_rate_limit"

    def __init__(self, client_id: str, retry_after: float) -> None:
        super().__init__(f"考勤系统 {client_id} 请求过于频繁，请 {retry_after:.1f} 秒后重试 (rate limit exceeded)")
        self.client_id = client_id
        self.retry_after = retry_after


class TokenBuckets:
    """A bucket of ``burst`` tokens per client id, refilled at ``rate`` tokens per second (per API process)."""

    def __init__(self, rate: float, burst: int, now: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.now = now
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client_id: str, cost: float = 1.0) -> None:
        """Takes tokens or raises RateLimited saying when to retry."""
        with self._lock:
            now = self.now()
            tokens, last = self._buckets.get(client_id, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < cost:
                self._buckets[client_id] = (tokens, now)
                raise RateLimited(client_id, (cost - tokens) / self.rate)
            self._buckets[client_id] = (tokens - cost, now)
