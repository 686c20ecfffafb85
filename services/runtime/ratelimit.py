"""Per-client token buckets shared by every API worker and replica (PostgreSQL), for any service's API.

``SharedTokenBuckets(db, rate, burst)`` keeps one bucket per client in an UNLOGGED ``rate_buckets`` table of the
service's schema (created on first use), so N workers give a client one limit; ``TokenBuckets`` is the
in-process bucket (tests, and the fallback while the database is unreachable: an outage must not become 429s).
Same interface as ``services/attendance/ratelimit.py``, which moves here (it subclasses ``RateLimited`` for its
wording); ``RateLimited.retry_after`` is what the 429's ``Retry-After`` says.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import psycopg

DDL = """
CREATE UNLOGGED TABLE IF NOT EXISTS rate_buckets (
    client_id text PRIMARY KEY,
    tokens double precision NOT NULL,
    refilled_at timestamptz NOT NULL,
    granted boolean NOT NULL DEFAULT true
);
"""


class RateLimited(Exception):
    """A client sent more requests than its bucket allows; ``retry_after`` seconds until the next token."""

    code = "rate_limited"
    rule = "client_rate_limit"

    def __init__(self, client_id: str, retry_after: float) -> None:
        super().__init__(f"{client_id} 请求过于频繁，请 {retry_after:.1f} 秒后重试 (rate limit exceeded)")
        self.client_id = client_id
        self.retry_after = retry_after


class TokenBuckets:
    """A bucket of ``burst`` tokens per client id, refilled at ``rate`` tokens per second (per process)."""

    def __init__(self, rate: float, burst: int, now: Callable[[], float] = time.monotonic,
                 limited: type[RateLimited] = RateLimited) -> None:
        self.rate = rate
        self.burst = burst
        self.now = now
        self.limited = limited
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
                raise self.limited(client_id, (cost - tokens) / self.rate)
            self._buckets[client_id] = (tokens - cost, now)


# One statement per request, no advisory lock: the client's row is refilled by the time since its last request
# (the database's clock, the same for every worker), a token taken if there is one, and whether one was is
# written in the same row (every SET expression reads the row as it was). UNLOGGED: no WAL, so the commit does not
# wait for a flush; after a crash the table is empty and every client starts again with a full bucket.
_HAD = (
    "LEAST(%(burst)s, b.tokens + %(rate)s * GREATEST(0, EXTRACT(EPOCH FROM statement_timestamp() - b.refilled_at))::float8)"
)
_TAKE = f"""
INSERT INTO rate_buckets AS b (client_id, tokens, refilled_at, granted)
VALUES (%(client)s, %(burst)s - %(cost)s, statement_timestamp(), true)
ON CONFLICT (client_id) DO UPDATE SET
    tokens = CASE WHEN {_HAD} >= %(cost)s THEN {_HAD} - %(cost)s ELSE {_HAD} END,
    refilled_at = GREATEST(b.refilled_at, statement_timestamp()),
    granted = {_HAD} >= %(cost)s
RETURNING tokens, granted
"""


class SharedTokenBuckets:
    """The buckets in PostgreSQL (``rate_buckets`` in the service's schema): one limit across every process."""

    def __init__(self, db: Any, rate: float, burst: int, limited: type[RateLimited] = RateLimited) -> None:
        self.db = db
        self.rate = float(rate)
        self.burst = float(burst)
        self.limited = limited
        self.fallback = TokenBuckets(rate, burst, limited=limited)
        db.ensure_tables(DDL)

    def take(self, client_id: str, cost: float = 1.0) -> None:
        """Takes tokens or raises RateLimited saying when to retry (one INSERT … ON CONFLICT … RETURNING)."""
        params = {"client": client_id, "burst": self.burst, "cost": float(cost), "rate": self.rate}
        try:
            with self.db.pool.connection() as conn:
                row = conn.execute(_TAKE, params).fetchone()
        except psycopg.OperationalError:
            self.fallback.take(client_id, cost)
            return
        if not row["granted"]:
            raise self.limited(client_id, (float(cost) - row["tokens"]) / self.rate)
