"""Who may call what: one declarative role × route matrix per service, checked against the app's routes at build
time and enforced by the authentication dependency, so no route's access depends on a line in its handler.

A row is keyed by ``"METHOD /path/{template}"`` exactly as FastAPI declares the route, and is one of
- ``Allow(*grants)``: the roles that may call it; a grant is a role name, or ``At(role, *levels)`` when the role
  must hold a jurisdiction of one of those administrative levels (code length 2 province, 4 prefecture, 6 county,
  9 township, 12 village). ``admin`` (the platform operator) passes every ``Allow`` row unless it says
  ``admin=False``.
- ``ByParam(param, {value: Allow(...)})``: different roles per value of a path parameter (e.g. an import's kind).
- ``Public(reason)``: no token needed (static web pages, which fetch their data from authenticated routes).
Ops routes (/healthz, /readyz, /metrics, /docs, /openapi.json) need no row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, status
from fastapi.routing import APIRoute

from services.runtime.actor import ROLES, Actor

OPS_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
LEVELS = {2: "省 province", 4: "市州 prefecture", 6: "县 county", 9: "乡镇 township", 12: "村 village"}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class RoleMatrixMismatch(ValueError):
    """The matrix and the app's routes disagree: the app must not be served."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("role matrix does not match the routes:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class At:
    """A role that must hold a jurisdiction of one of the given levels (code lengths)."""

    role: str
    levels: tuple[int, ...]

    def __init__(self, role: str, *levels: int) -> None:
        object.__setattr__(self, "role", role)
        object.__setattr__(self, "levels", tuple(levels))


@dataclass(frozen=True)
class Allow:
    """The roles (and, where it matters, their levels) that may call a route."""

    grants: Mapping[str, tuple[int, ...] | None]
    admin: bool = True
    note: str = ""

    def __init__(self, *grants: str | At, admin: bool = True, note: str = "") -> None:
        table: dict[str, tuple[int, ...] | None] = {}
        for grant in grants:
            role, levels = (grant.role, grant.levels) if isinstance(grant, At) else (grant, None)
            if role in table:
                raise ValueError(f"role {role} named twice in one row")
            table[role] = levels
        object.__setattr__(self, "grants", table)
        object.__setattr__(self, "admin", admin)
        object.__setattr__(self, "note", note)

    def roles(self) -> tuple[str, ...]:
        """Every role that passes this row, in the order of ROLES."""
        return tuple(r for r in ROLES if r in self.grants or (r == "admin" and self.admin))

    def refusal(self, actor: Actor) -> dict[str, Any] | None:
        """Why the actor may not call the route (the 403 detail), or None when it may."""
        if actor.role == "admin" and self.admin:
            return None
        if actor.role not in self.grants:
            return {"code": "forbidden_role", "message": f"角色 {actor.role} 无权执行此操作 (role not allowed)",
                    "allowed": list(self.roles())}
        levels = self.grants[actor.role]
        if levels is not None and len(actor.jurisdiction) not in levels:
            wanted = "、".join(LEVELS[n] for n in levels)
            return {"code": "forbidden_level",
                    "message": f"角色 {actor.role} 须持有{wanted}级辖区 (jurisdiction of level {list(levels)} needed)",
                    "levels": list(levels)}
        return None


@dataclass(frozen=True)
class ByParam:
    """Roles that depend on a path parameter's value; an unlisted value passes the union (validation answers)."""

    param: str
    rows: Mapping[str, Allow]
    note: str = ""

    def pick(self, value: Any) -> Allow:
        row = self.rows.get(str(value))
        if row is not None:
            return row
        merged: dict[str, tuple[int, ...] | None] = {}
        for r in self.rows.values():
            for role, levels in r.grants.items():
                merged.setdefault(role, levels)
        grants = [At(k, *v) if v else k for k, v in merged.items()]
        return Allow(*grants, admin=any(r.admin for r in self.rows.values()))


@dataclass(frozen=True)
class Public:
    """A route anyone may call without a token; the reason says why that is safe."""

    reason: str


Row = Allow | ByParam | Public


@dataclass
class RoleMatrix:
    """One service's rows, keyed by ``"METHOD /path"`` as FastAPI declares the route."""

    rows: Mapping[str, Row]
    service: str = ""
    _by_key: dict[tuple[str, str], Row] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        problems = []
        for key, row in self.rows.items():
            method, _, path = key.partition(" ")
            if method not in METHODS or not path.startswith("/"):
                problems.append(f"{key!r}: a key is 'METHOD /path' with METHOD one of {', '.join(METHODS)}")
            for allow in _allows(row):
                unknown = [r for r in allow.grants if r not in ROLES or r == "admin"]
                if unknown:
                    problems.append(f"{key}: unknown role(s) {unknown} (admin is the row's admin flag)")
                bad = [n for v in allow.grants.values() if v for n in v if n not in LEVELS]
                if bad:
                    problems.append(f"{key}: unknown level(s) {bad}; levels are {sorted(LEVELS)}")
            self._by_key[(method, path)] = row
        if problems:
            raise RoleMatrixMismatch(problems)

    def row(self, method: str, path: str) -> Row | None:
        return self._by_key.get(("GET" if method == "HEAD" else method, path))

    def problems(self, app: Any) -> list[str]:
        """Every route without a row, row without a route, and row that cannot be enforced on its route."""
        return self._survey(app)[0]

    def _survey(self, app: Any) -> tuple[list[str], dict[int, tuple[Any, str]]]:
        found: list[str] = []
        seen: set[tuple[str, str]] = set()
        paths: dict[int, tuple[Any, str]] = {}
        for route, path in flat_routes(app):
            if path is None or path in OPS_PATHS:
                continue
            if paths.setdefault(id(route), (route, path))[1] != path:
                found.append(f"{path}: the same route is also served at {paths[id(route)][1]}; give each its own "
                             "router")
            methods = sorted((getattr(route, "methods", None) or {"*"}) - {"HEAD"})
            for method in methods:
                row = self._by_key.get((method, path))
                guarded = authenticates(route)
                if row is None:
                    found.append(f"{method} {path}: no row in the role matrix"
                                 + (" (it authenticates)" if guarded else " (add Public(reason) if it is public)"))
                    continue
                seen.add((method, path))
                if isinstance(row, Public) and guarded:
                    found.append(f"{method} {path}: row says public but the route authenticates")
                if not isinstance(row, Public) and not guarded:
                    found.append(f"{method} {path}: row names roles but the route does not authenticate, "
                                 "so nothing would enforce it")
                if isinstance(row, ByParam) and "{" + row.param not in path:
                    found.append(f"{method} {path}: row varies by {row.param!r}, not a parameter of the path")
        for method, path in self._by_key:
            if (method, path) not in seen:
                found.append(f"{method} {path}: row names a route that does not exist")
        return found, paths

    def check(self, app: Any) -> None:
        """Raises RoleMatrixMismatch unless every route has exactly the row it needs; remembers on the app the
        template each route is served at (an included router's prefix is not in its routes' own path)."""
        problems, paths = self._survey(app)
        if problems:
            raise RoleMatrixMismatch(problems)
        app.state.role_paths = paths

    def without(self, prefix: str) -> "RoleMatrix":
        """The matrix less the rows of routes under a path prefix (for an app built without those routes)."""
        return RoleMatrix({k: r for k, r in self.rows.items() if not k.split(" ", 1)[1].startswith(prefix)},
                          service=self.service)

    def items(self) -> Iterable[tuple[str, Row]]:
        return ((f"{m} {p}", r) for (m, p), r in self._by_key.items())


def _allows(row: Row) -> list[Allow]:
    if isinstance(row, Allow):
        return [row]
    if isinstance(row, ByParam):
        return list(row.rows.values())
    return []


def flat_routes(app: Any) -> Iterable[tuple[Any, str | None]]:
    """Each route the app serves with the full path template it is served at (through included routers too)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # a FastAPI that flattens included routers itself
        return [(r, getattr(r, "path", None)) for r in app.routes]
    return [(c.original_route, c.path) for c in iter_route_contexts(app.routes)]


_AUTHENTICATORS: list[Callable[..., Any]] = []


def authenticator(dependency: Callable[..., Any]) -> Callable[..., Any]:
    """Marks the FastAPI dependency that checks the bearer token (``auth.current_actor``), so a route that
    depends on it counts as authenticating."""
    _AUTHENTICATORS.append(dependency)
    return dependency


def authenticates(route: Any) -> bool:
    """True when the route's dependencies (at any depth) include the bearer-token check."""
    if not isinstance(route, APIRoute):
        return False
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if any(dependant.call is known for known in _AUTHENTICATORS):
            return True
        pending.extend(dependant.dependencies)
    return False


def enforce(request: Any, actor: Actor) -> None:
    """Raises 403 unless the app's matrix lets this actor call the matched route (fails closed without a row)."""
    matrix: RoleMatrix | None = getattr(request.app.state, "role_matrix", None)
    route = request.scope.get("route")
    served = getattr(request.app.state, "role_paths", {}).get(id(route))
    path = served[1] if served is not None else getattr(route, "path", None)
    row = matrix.row(request.method, path) if matrix is not None and path is not None else None
    if row is None or isinstance(row, Public):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail={
            "code": "forbidden_role", "message": "此接口未列入角色权限表，拒绝访问 (route not in the role matrix)"})
    if isinstance(row, ByParam):
        row = row.pick(request.path_params.get(row.param))
    refusal = row.refusal(actor)
    if refusal is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=refusal)
