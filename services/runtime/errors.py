"""Domain errors every service raises, each carrying its HTTP status: the API maps them in one place (web.py)."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain was broken; ``rule`` names it for the caller, ``status`` is how the API answers it."""

    code = "domain_rule"
    status = 409

    def __init__(self, message: str, rule: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule


class InvalidInput(DomainError):
    code = "invalid_input"
    status = 422


class Conflict(DomainError):
    code = "conflict"
    status = 409


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Forbidden(DomainError):
    """The actor's role may not take this step (the role is part of the rule, not of the route's row)."""

    code = "forbidden_by_rule"
    status = 403


def body_of(exc: DomainError) -> dict[str, object]:
    """The answer's ``detail``: code, message and, when named, the rule."""
    body: dict[str, object] = {"code": getattr(exc, "code", type(exc).__name__), "message": str(exc)}
    if getattr(exc, "rule", None):
        body["rule"] = exc.rule
    return body
