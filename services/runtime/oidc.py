"""OpenID Connect bearer tokens: RS/ES-signed JWTs verified against the provider's JWKS (PyJWT), their claims
mapped to an ``Actor``; and the verifier every API uses, which also takes HS256 development tokens when allowed."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import httpx
import jwt
from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError
from pydantic import ValidationError

from services.runtime.auth import ROLES, Actor, TokenCodec

KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}  # the JWK kty each algorithm family must be verified with


class ProviderUnavailable(ValueError):
    """The identity provider (discovery or JWKS) did not answer: no token of it can be checked now."""


@dataclass(frozen=True)
class ClaimNames:
    """Which claims of the provider's tokens carry what the platform needs (dotted paths into nested claims)."""

    user: str = "sub"
    role: str = "role"
    jurisdiction: str = "jur"
    schools: str = "schools"
    name: str = "name"
    role_map: dict[str, str] = field(default_factory=dict)

    def actor(self, claims: dict[str, Any]) -> Actor:
        """The actor a verified token names; ValueError when a claim is missing or not one the platform knows."""
        values = _claim(claims, self.role)
        values = values if isinstance(values, list) else [] if values is None else [values]
        # with a map only mapped values count: a provider's own "admin" must not become the platform's admin
        mapped = [self.role_map.get(str(v)) if self.role_map else str(v) for v in values]
        role = next((r for r in mapped if r in ROLES), None)  # a list of roles: the first the platform knows
        schools = _claim(claims, self.schools)
        try:
            return Actor(
                user_id=_claim(claims, self.user),
                role=role,
                jurisdiction=_claim(claims, self.jurisdiction),
                name=_claim(claims, self.name),
                schools=[schools] if isinstance(schools, str) else schools,
            )
        except ValidationError as exc:
            error = exc.errors()[0]
            raise ValueError(f"invalid token claims: {'.'.join(map(str, error['loc']))}: {error['msg']}") from exc


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class _JwksClient(PyJWKClient):
    """PyJWKClient (TTL cache, cooldown on unknown kids) that also backs off after the provider failed to answer."""

    def __init__(self, uri: str, *, retry_s: float, **kwargs: Any) -> None:
        super().__init__(uri, **kwargs)
        self.retry_s = retry_s
        self.fetches = 0
        self._retry_after = 0.0

    def fetch_data(self) -> Any:
        if time.monotonic() < self._retry_after:
            raise PyJWKClientConnectionError("identity provider did not answer; waiting before asking again")
        self.fetches += 1
        try:
            return super().fetch_data()
        except PyJWKClientConnectionError:
            self._retry_after = time.monotonic() + self.retry_s
            raise


class OidcVerifier:
    """Verifies the provider's tokens: algorithm pinned to the key's type, signature by the JWKS key named by
    ``kid``, issuer, audience, exp/nbf/iat with a small leeway; keys cached for ``ttl_s`` and refetched on an
    unknown kid at most every ``cooldown_s``."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        jwks_url: str | None = None,
        algorithms: tuple[str, ...] | list[str] = ("RS256", "ES256"),
        leeway_s: float = 30,
        ttl_s: float = 300,
        cooldown_s: float = 30,
        retry_s: float = 5,
        timeout_s: float = 3,
        claims: ClaimNames | None = None,
        require_https: bool = False,
    ) -> None:
        self.issuer, self.audience = issuer, audience
        self.algorithms = tuple(a for a in algorithms if a[:2] in KEY_TYPES)
        self.leeway = timedelta(seconds=leeway_s)
        self.claims = claims or ClaimNames()
        self._jwks_url = jwks_url
        self._client_args = {"lifespan": ttl_s, "cooldown_duration": cooldown_s, "timeout": timeout_s}
        self._retry_s, self._timeout_s = retry_s, timeout_s
        self._client: _JwksClient | None = None
        self._discovery_retry_after = 0.0
        self._require_https = require_https  # production: a discovered jwks_uri must be https too
        self._lock = threading.Lock()

    @property
    def fetches(self) -> int:
        """How many times the JWKS was asked for (tests, metrics)."""
        return self._client.fetches if self._client else 0

    def verify(self, token: str) -> Actor:
        """The actor named by a valid token; raises ValueError (ProviderUnavailable if the provider is down)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise ValueError(f"invalid token: {exc}") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in self.algorithms:
            accepted = ", ".join(self.algorithms)
            raise ValueError(f"invalid token: algorithm {str(alg)[:16]!r} not accepted (only {accepted})")
        if not isinstance(kid, str) or not kid:
            raise ValueError("invalid token: no key id (kid) in the header")
        try:
            jwk = self.client().get_signing_key(kid)
        except PyJWKClientConnectionError as exc:
            raise ProviderUnavailable("identity provider unreachable (身份提供方不可达)") from exc
        except PyJWKClientError as exc:
            raise ValueError(f"invalid token: unknown key id {kid[:64]!r}") from exc
        except jwt.PyJWTError as exc:  # the JWKS itself is unusable
            raise ProviderUnavailable(f"identity provider's key set is unusable: {exc}") from exc
        declared = jwk._jwk_data.get("alg")  # noqa: SLF001 - PyJWK fills algorithm_name in when the JWK has none
        if jwk.key_type != KEY_TYPES[alg[:2]] or (declared is not None and declared != alg):
            raise ValueError(f"invalid token: algorithm {alg} does not fit key {kid[:64]!r}")
        try:
            claims = jwt.decode(
                token,
                jwk.key,
                algorithms=[alg],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise ValueError("token expired") from exc
        except jwt.PyJWTError as exc:
            raise ValueError(f"invalid token: {exc}") from exc
        return self.claims.actor(claims)

    def client(self) -> _JwksClient:
        """The JWKS client, its address found by discovery the first time (not again until that succeeds)."""
        with self._lock:
            if self._client is None:
                self._client = _JwksClient(self._jwks_url or self._discover(), retry_s=self._retry_s,
                                           **self._client_args)
            return self._client

    def _discover(self) -> str:
        if time.monotonic() < self._discovery_retry_after:
            raise PyJWKClientConnectionError("discovery failed recently; waiting before asking again")
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            response = httpx.get(url, timeout=self._timeout_s, follow_redirects=False)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            self._discovery_retry_after = time.monotonic() + self._retry_s
            raise PyJWKClientConnectionError(f"discovery failed: {exc}") from exc
        jwks_uri = document.get("jwks_uri") if isinstance(document, dict) else None
        schemes = ("https",) if self._require_https else ("http", "https")
        if document.get("issuer") != self.issuer or not isinstance(jwks_uri, str) \
                or urlparse(jwks_uri).scheme not in schemes:
            self._discovery_retry_after = time.monotonic() + self._retry_s
            raise PyJWKClientConnectionError(f"discovery names another issuer or no {'/'.join(schemes)} jwks_uri")
        return jwks_uri


class TokenVerifier:
    """What ``app.state.token_codec`` is: verifies provider tokens and, where allowed, HS256 development tokens,
    choosing by the token's algorithm (so a token can never pick a weaker check than its issuer's)."""

    def __init__(self, dev: TokenCodec | None, oidc: OidcVerifier | None = None) -> None:
        if dev is None and oidc is None:
            raise ValueError("no way to verify tokens: enable development tokens or configure an OIDC provider")
        self.dev, self.oidc = dev, oidc

    def verify(self, token: str) -> Actor:
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as exc:
            raise ValueError(f"invalid token: {exc}") from exc
        if alg == "HS256" and self.dev is not None:
            return self.dev.verify(token)
        if self.oidc is not None:
            return self.oidc.verify(token)  # refuses every algorithm it does not accept, HS256 and none included
        raise ValueError(f"invalid token: algorithm {str(alg)[:16]!r} not accepted")

    def mint(self, actor: Actor, now: datetime | None = None, ttl: timedelta | None = None) -> str:
        """A development token (only where development tokens are accepted)."""
        if self.dev is None:
            raise RuntimeError("development tokens are disabled (BAOXUE_JWT_DEV_TOKENS)")
        return self.dev.mint(actor, now=now, ttl=ttl)


def token_verifier(settings: Any) -> TokenVerifier:
    """The verifier the settings describe (runtime settings: jwt_* and oidc_*)."""
    dev = None
    if settings.dev_tokens_enabled:
        dev = TokenCodec(settings.jwt_secret, settings.jwt_issuer, settings.jwt_ttl_hours)
    oidc = None
    if settings.oidc_issuer:
        oidc = OidcVerifier(
            settings.oidc_issuer,
            settings.oidc_audience,
            jwks_url=settings.oidc_jwks_url,
            algorithms=settings.oidc_algorithms,
            leeway_s=settings.oidc_leeway_s,
            ttl_s=settings.oidc_jwks_ttl_s,
            cooldown_s=settings.oidc_jwks_cooldown_s,
            retry_s=settings.oidc_retry_s,
            timeout_s=settings.oidc_http_timeout_s,
            claims=ClaimNames(
                user=settings.oidc_user_claim,
                role=settings.oidc_role_claim,
                jurisdiction=settings.oidc_jurisdiction_claim,
                schools=settings.oidc_schools_claim,
                name=settings.oidc_name_claim,
                role_map=dict(settings.oidc_role_map),
            ),
            require_https=settings.env == "production",
        )
    return TokenVerifier(dev, oidc)
