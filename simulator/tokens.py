"""Development bearer tokens as the services accept them (services/runtime/README.md, *Identity*), minted with
PyJWT from the documented format rather than with the runtime's codec: the simulator is a client like any other."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import jwt

# BAOXUE_JWT_SECRET's documented development default: what every process of a stack without the variable signs with
DEV_JWT_SECRET = "baoxue-development-signing-key-not-for-production"  # noqa: S105
DEV_JWT_ISSUER = "baoxue"


class DevTokens:
    """HS256 JWTs with the claims a service reads: sub, role, jur, iss, iat, exp, and optionally name, schools."""

    def __init__(self, secret: str | None = None, issuer: str | None = None, ttl_hours: int = 12) -> None:
        self.secret = secret or os.environ.get("BAOXUE_JWT_SECRET") or DEV_JWT_SECRET
        self.issuer = issuer or os.environ.get("BAOXUE_JWT_ISSUER") or DEV_JWT_ISSUER
        self.ttl = timedelta(hours=ttl_hours)

    def mint(self, user_id: str, role: str, jurisdiction: str, *, schools: list[str] | None = None,
             name: str | None = None, now: datetime | None = None) -> str:
        now = now or datetime.now(timezone.utc)
        claims: dict[str, object] = {"sub": user_id, "role": role, "jur": jurisdiction, "iss": self.issuer,
                                     "iat": int(now.timestamp()), "exp": int((now + self.ttl).timestamp())}
        if name:
            claims["name"] = name
        if schools is not None:
            claims["schools"] = schools
        return jwt.encode(claims, self.secret, algorithm="HS256")
