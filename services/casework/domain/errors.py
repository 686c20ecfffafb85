"""Named domain errors: each carries the rule it enforces, so callers see why (409/422/404 name it)."""

from __future__ import annotations


class CaseworkError(Exception):
    """A casework rule was broken; ``rule`` names it for the caller."""

    code = "casework_rule"

    def __init__(self, message: str, rule: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule


class InvalidInput(CaseworkError):
    code = "invalid_input"


class Conflict(CaseworkError):
    code = "conflict"


class Forbidden(CaseworkError):
    """The actor's role may not do this step (the role is part of the rule, e.g. who issues 司法文书)."""

    code = "forbidden_by_rule"


class NotFound(CaseworkError):
    code = "not_found"
