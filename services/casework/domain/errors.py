"""Named domain errors: each carries the rule it enforces and, through runtime.errors, the status the API answers."""

from __future__ import annotations

from services.runtime import errors


class CaseworkError(errors.DomainError):
    """A casework rule was broken; ``rule`` names it for the caller."""

    code = "casework_rule"


class InvalidInput(CaseworkError, errors.InvalidInput):
    code = "invalid_input"


class Conflict(CaseworkError, errors.Conflict):
    code = "conflict"


class Forbidden(CaseworkError, errors.Forbidden):
    """The actor's role may not do this step (the role is part of the rule, e.g. who issues 司法文书)."""

    code = "forbidden_by_rule"


class NotFound(CaseworkError, errors.NotFound):
    code = "not_found"
