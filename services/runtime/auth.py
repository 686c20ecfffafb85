"""Identity: bearer JWTs name the actor (user id, role, jurisdiction); queries are limited to the
caller's jurisdiction, which is a prefix of administrative division codes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from services.runtime.access import authenticator, enforce
from services.runtime.actor import ROLES, Actor, Role, system_actor

__all__ = ["ROLES", "Actor", "CurrentActor", "Role", "TokenCodec", "current_actor", "require_role", "require_scope",
           "system_actor"]  # Actor and the roles live in actor.py; importers keep naming them from here

class TokenCodec:
    """Mints and verifies HS256 bearer tokens with the configured signing key."""

    def __init__(self, secret: str, issuer: str = "baoxue", ttl_hours: int = 12) -> None:
        self.secret = secret
        self.issuer = issuer
        self.ttl = timedelta(hours=ttl_hours)

    def mint(self, actor: Actor, now: datetime | None = None, ttl: timedelta | None = None) -> str:
        now = now or datetime.now(timezone.utc)
        claims = {
            "sub": actor.user_id,
            "role": actor.role,
            "jur": actor.jurisdiction,
            "iss": self.issuer,
            "iat": int(now.timestamp()),
            "exp": int((now + (ttl or self.ttl)).timestamp()),
        }
        if actor.name:
            claims["name"] = actor.name
        if actor.schools is not None:
            claims["schools"] = actor.schools
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def verify(self, token: str) -> Actor:
        """The actor named by a valid token; raises ValueError with the reason otherwise."""
        try:
            claims = jwt.decode(
                token, self.secret, algorithms=["HS256"], issuer=self.issuer, options={"require": ["exp", "sub"]}
            )
        except jwt.ExpiredSignatureError as exc:
            raise ValueError("token expired") from exc
        except jwt.PyJWTError as exc:
            raise ValueError(f"invalid token: {exc}") from exc
        try:
            return Actor(
                user_id=claims["sub"],
                role=claims.get("role"),
                jurisdiction=claims.get("jur"),
                name=claims.get("name"),
                schools=claims.get("schools"),
            )
        except ValidationError as exc:
            raise ValueError(f"invalid token claims: {exc.errors()[0]['msg']}") from exc


_bearer = HTTPBearer(auto_error=False, description="JWT minted by the identity provider or `baoxue dev-token`")


@authenticator
def current_actor(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Actor:
    """FastAPI dependency: the authenticated actor (401 without a valid token), allowed by the route's row of the
    app's role matrix (403 ``forbidden_role`` / ``forbidden_level`` otherwise)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail={"code": "unauthenticated", "message": "缺少身份令牌 (missing bearer token)"},
            headers={"WWW-Authenticate": "Bearer"},
        )
    codec: TokenCodec = request.app.state.token_codec
    try:
        actor = codec.verify(credentials.credentials)
    except ValueError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail={"code": "invalid_token", "message": f"身份令牌无效 ({exc})"},
            headers={"WWW-Authenticate": "Bearer"},
        ) from exc
    request.state.actor = actor
    from services.runtime.logging import bind

    bind(actor_id=actor.user_id, actor_role=actor.role)
    enforce(request, actor)  # the app's role matrix: the one place a route's roles are checked
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


def require_role(actor: Actor, *roles: str) -> None:
    """Raises 403 unless the actor has one of the roles (admin always passes); only for checks a role matrix row
    cannot express (they depend on the body or on the case), since the matrix already checks every route."""
    if actor.role != "admin" and actor.role not in roles:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail={"code": "forbidden_role", "message": f"角色 {actor.role} 无权执行此操作", "allowed": list(roles)},
        )


def require_scope(actor: Actor, code: str | None, what: str = "resource") -> None:
    """Raises 403 unless the jurisdiction code lies inside the actor's jurisdiction."""
    if not actor.covers(code):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail={
                "code": "out_of_jurisdiction",
                "message": f"{what} 不在您的辖区 {actor.jurisdiction} 内",
            },
        )
