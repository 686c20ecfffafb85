"""Attendance systems' rate limit: the runtime's shared token buckets (one limit per client across every worker and
replica), with the refusal worded for attendance systems."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from services.runtime import ratelimit

__all__ = ["RateLimited", "SharedTokenBuckets", "TokenBuckets"]


class RateLimited(ratelimit.RateLimited):
    """An attendance system sent more check-in batches than its bucket allows."""

    def __init__(self, client_id: str, retry_after: float) -> None:
        Exception.__init__(self, f"考勤系统 {client_id} 请求过于频繁，请 {retry_after:.1f} 秒后重试 (rate limit exceeded)")
        self.client_id = client_id
        self.retry_after = retry_after


class TokenBuckets(ratelimit.TokenBuckets):
    """In-process buckets (one process, or PostgreSQL unreachable), refusing with attendance's ``RateLimited``."""

    def __init__(self, rate: float, burst: int, now: Callable[[], float] = time.monotonic) -> None:
        super().__init__(rate, burst, now, limited=RateLimited)


class SharedTokenBuckets(ratelimit.SharedTokenBuckets):
    """The runtime's PostgreSQL buckets, refusing with attendance's ``RateLimited``."""

    def __init__(self, db: Any, rate: float, burst: int) -> None:
        super().__init__(db, rate, burst, limited=RateLimited)
