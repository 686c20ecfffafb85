"""Settings shared by every service, read from ``BAOXUE_``-prefixed environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "baoxue-development-signing-key-not-for-production"  # noqa: S105

SERVICE_PORTS = {"registry": 8101, "attendance": 8102, "casework": 8103, "notifications": 8104, "reporting": 8105}
WORKER_METRICS_PORTS = {  # relay and consumer processes expose /metrics here
    ("registry", "relay"): 9111,
    ("registry", "consumer"): 9121,
    ("attendance", "relay"): 9112,
    ("attendance", "consumer"): 9122,
    ("casework", "relay"): 9113,
    ("casework", "consumer"): 9123,
    ("notifications", "relay"): 9114,
    ("notifications", "consumer"): 9124,
    ("reporting", "relay"): 9115,
    ("reporting", "consumer"): 9125,
    ("attendance", "scheduler"): 9132,
    ("casework", "scheduler"): 9133,
    ("registry", "scheduler"): 9131,
    ("notifications", "scheduler"): 9134,
    ("reporting", "scheduler"): 9135,
}


class ServiceSettings(BaseSettings):
    """Runtime settings; each service subclasses this with its own rules."""

    model_config = SettingsConfigDict(env_prefix="BAOXUE_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "postgresql://postgres@127.0.0.1:55432/baoxue"
    kafka_bootstrap: str = "127.0.0.1:59092"
    kafka_partitions: int = Field(6, ge=1, le=256)
    jwt_secret: str = DEV_JWT_SECRET
    jwt_issuer: str = "baoxue"
    jwt_ttl_hours: int = 12
    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port_offset: int = Field(0, description="Added to every default port, to run two stacks on one host")
    log_level: str = "INFO"
    relay_batch_size: int = Field(500, ge=1, le=10_000)
    relay_safety_poll_s: float = Field(2.0, gt=0, description="A quiet relay wakes on NOTIFY; it also looks this often")
    consumer_batch_size: int = Field(500, ge=1, le=10_000)
    db_pool_size: int = Field(6, ge=1, description="Most connections per pool (one kept open, more on demand)")
    clock_file: Path | None = Field(None, description="If set, the simulated time is read from this file")
    timezone: str = "Asia/Shanghai"
    cipher_key: str | None = Field(None, description="AES key (base64) to encrypt stored event state")

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> "ServiceSettings":
        if self.env != "development" and self.env != "test" and self.jwt_secret == DEV_JWT_SECRET:
            raise ValueError("BAOXUE_JWT_SECRET is the development placeholder; set a real key outside development")
        if self.env == "production" and len(self.jwt_secret) < 32:
            raise ValueError("BAOXUE_JWT_SECRET must be at least 32 characters in production")
        return self

    def http_port(self, service: str) -> int:
        """The HTTP port of a service's API."""
        return SERVICE_PORTS[service] + self.port_offset

    def worker_metrics_port(self, service: str, role: str) -> int:
        """The /metrics port of a relay or consumer process."""
        return WORKER_METRICS_PORTS[(service, role)] + self.port_offset

    def pg_params(self) -> dict[str, str]:
        """Connection parameters split from the database URL (for eventsourcing's env)."""
        url = urlparse(self.database_url)
        return {
            "host": url.hostname or "127.0.0.1",
            "port": str(url.port or 5432),
            "user": unquote(url.username or "postgres"),
            "password": unquote(url.password or ""),
            "dbname": (url.path or "/postgres").lstrip("/") or "postgres",
        }
