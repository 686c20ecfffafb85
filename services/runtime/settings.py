"""Settings shared by every service, read from ``BAOXUE_``-prefixed environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "baoxue-development-signing-key-not-for-production"  # noqa: S105
# Example values shipped in docs and deploy/ that must never sign tokens outside development.
PLACEHOLDER_JWT_SECRETS = frozenset({DEV_JWT_SECRET, "replace-with-at-least-32-random-characters"})
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")

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
    # a second published store's relay (reporting's inspections): residue 96, which no copy block uses
    ("reporting", "inspection-relay"): 9196,
}


class ServiceSettings(BaseSettings):
    """Runtime settings; each service subclasses this with its own rules."""

    model_config = SettingsConfigDict(env_prefix="BAOXUE_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "postgresql://postgres@127.0.0.1:55432/baoxue"
    kafka_bootstrap: str = "127.0.0.1:59092"
    kafka_partitions: int = Field(24, ge=1, le=256, description="Partitions per topic (replicas of a consumer share them by leases); raising it grows existing topics")
    kafka_replication_factor: int = Field(1, ge=1, le=7, description="Replicas of each topic created (deploy: 3)")
    jwt_secret: str = DEV_JWT_SECRET
    jwt_issuer: str = "baoxue"
    jwt_ttl_hours: int = 12
    jwt_dev_tokens: bool | None = Field(
        None, description="Accept HS256 development tokens signed with jwt_secret; default: yes except in production"
    )
    oidc_issuer: str | None = Field(None, description="OpenID Connect provider (iss); set to accept its RS/ES tokens")
    oidc_audience: str | None = Field(None, description="The aud this platform is registered as at the provider")
    oidc_jwks_url: str | None = Field(None, description="JWKS address; unset: from {issuer}/.well-known/openid-configuration")
    oidc_algorithms: list[str] = Field(["RS256", "ES256"], description="Signature algorithms accepted (asymmetric only)")
    oidc_leeway_s: int = Field(30, ge=0, le=300, description="Clock skew tolerated on exp, nbf and iat")
    oidc_jwks_ttl_s: float = Field(300, gt=0, description="How long fetched keys are trusted before a refetch")
    oidc_jwks_cooldown_s: float = Field(30, ge=0, description="Least time between refetches for an unknown kid")
    oidc_retry_s: float = Field(5, ge=0, description="After the provider failed to answer, no new fetch for this long")
    oidc_http_timeout_s: float = Field(3, gt=0, le=30, description="Timeout of discovery and JWKS requests")
    oidc_user_claim: str = Field("sub", description="Claim (dotted path) naming the user")
    oidc_role_claim: str = Field("role", description="Claim (dotted path) with the role, a string or a list")
    oidc_jurisdiction_claim: str = Field("jur", description="Claim (dotted path) with the jurisdiction code")
    oidc_schools_claim: str = Field("schools", description="Claim (dotted path) with the school ids (attendance systems)")
    oidc_name_claim: str = Field("name", description="Claim (dotted path) with the display name")
    oidc_role_map: dict[str, str] = Field(
        default_factory=dict, description="Provider role value -> Baoxue role (JSON); if set, unmapped values grant nothing"
    )
    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port_offset: int = Field(0, description="Added to every default port, to run two stacks on one host")
    log_level: str = "INFO"
    relay_batch_size: int = Field(2000, ge=1, le=10_000)
    relay_safety_poll_s: float = Field(2.0, gt=0, description="A quiet relay wakes on NOTIFY; it also looks this often")
    relay_standby_poll_s: float = Field(1.0, gt=0, description="A relay replica's heartbeat: how often it rebalances "
                                        "its partitions (and probes the others' liveness)")
    relay_lease_s: float = Field(10.0, gt=0, description="A relay replica's partition leases expire this long after "
                                 "its last renewal (a host that vanished; a killed process loses them at once)")
    relay_linger_ms: int = Field(20, ge=0, le=1000, description="Producer linger: messages gathered per request")
    relay_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "lz4"
    scheduler_claim: bool = Field(True, description="Schedulers tick only while holding their advisory lock")
    api_workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes of an API (each with its own pools)")
    db_wait_s: float = Field(0, ge=0, description="How long a process waits for PostgreSQL at start (0: for ever)")
    consumer_batch_size: int = Field(
        2000, ge=1, le=10_000, description="Most messages a consumer poll reads and applies in one transaction")
    consumer_lease_s: float = Field(
        10.0, gt=0, le=300, description="A consumer replica's partition leases expire this long after its last "
        "heartbeat; a killed replica's partitions move to the others within about this")
    consumer_heartbeat_s: float | None = Field(
        None, gt=0, description="How often a replica renews and rebalances its leases; unset: a third of the lease")
    db_pool_size: int = Field(6, ge=1, description="Most connections per pool (one kept open, more on demand)")
    clock_file: Path | None = Field(None, description="If set, the simulated time is read from this file")
    timezone: str = "Asia/Shanghai"
    cipher_key: str | None = Field(None, description="AES key (base64) to encrypt stored event state")

    @property
    def dev_tokens_enabled(self) -> bool:
        """Whether HS256 development tokens are accepted (off in production unless BAOXUE_JWT_DEV_TOKENS=true)."""
        return self.jwt_dev_tokens if self.jwt_dev_tokens is not None else self.env != "production"

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> "ServiceSettings":
        if self.dev_tokens_enabled and self.env not in ("development", "test"):
            if self.jwt_secret.strip() in PLACEHOLDER_JWT_SECRETS:
                raise ValueError("BAOXUE_JWT_SECRET is a placeholder; set a real key outside development")
            if len(self.jwt_secret) < 32:
                raise ValueError("BAOXUE_JWT_SECRET must be at least 32 characters in production")
        return self

    @model_validator(mode="after")
    def _check_identity_provider(self) -> "ServiceSettings":
        from services.runtime.auth import ROLES  # auth imports no settings: no cycle

        if self.env == "production" and not self.dev_tokens_enabled and not self.oidc_issuer:
            raise ValueError(
                "production needs BAOXUE_OIDC_ISSUER (or BAOXUE_JWT_DEV_TOKENS=true): no token could be verified"
            )
        if self.oidc_issuer:
            if not self.oidc_audience:
                raise ValueError("BAOXUE_OIDC_AUDIENCE is required with BAOXUE_OIDC_ISSUER")
            for name, url in (("BAOXUE_OIDC_ISSUER", self.oidc_issuer), ("BAOXUE_OIDC_JWKS_URL", self.oidc_jwks_url)):
                if url is not None and urlparse(url).scheme not in ("http", "https"):
                    raise ValueError(f"{name} must be an http(s) address")
            if self.env == "production" and any(
                urlparse(u).scheme != "https" for u in (self.oidc_issuer, self.oidc_jwks_url) if u
            ):
                raise ValueError("BAOXUE_OIDC_ISSUER and BAOXUE_OIDC_JWKS_URL must be https in production")
        bad = [a for a in self.oidc_algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if bad or not self.oidc_algorithms:
            raise ValueError(f"BAOXUE_OIDC_ALGORITHMS accepts only {', '.join(ASYMMETRIC_ALGORITHMS)}: not {bad}")
        unknown = sorted(v for v in self.oidc_role_map.values() if v not in ROLES)
        if unknown:
            raise ValueError(f"BAOXUE_OIDC_ROLE_MAP maps to unknown roles: {unknown}")
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
