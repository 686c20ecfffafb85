"""The registry's domain errors: named as before, each answered with its runtime status (422, 409, 404)."""

from __future__ import annotations

from services.runtime import errors


class RegistryError(errors.DomainError):
    """A registry rule was broken."""

    code = "registry_rule"


class InvalidInput(RegistryError, errors.InvalidInput):
    code = "invalid_input"


class Conflict(RegistryError, errors.Conflict):
    code = "conflict"


class NotFound(RegistryError, errors.NotFound):
    code = "not_found"
