"""The five services by name, and what each declares (its processes, its role matrix), looked up here so the
runtime never has to import a service."""

from __future__ import annotations

import importlib
from typing import Any, Callable

from services.runtime.access import RoleMatrix

SERVICES = ("registry", "attendance", "casework", "notifications", "reporting")


ONE_SHOT = ("migrate",)  # roles that run to completion (the k8s migrate Job), not a long-running process
KINDS = ("api", "relay", "consumer", "scheduler")


def role_kind(role: str) -> str:
    """The kind of a process role: itself, or for a named one (``inspection-relay``) the kind it ends with."""
    kind = role if role in KINDS else role.rsplit("-", 1)[-1]
    if kind not in KINDS:
        raise ValueError(f"process role {role!r} is none of {', '.join(KINDS)} (nor ends with one)")
    return kind


def service_entries(service: str) -> dict[str, Callable[[], Any]]:
    """Everything ``baoxue run <service> <role>`` can run: the processes and the one-shot roles."""
    if service not in SERVICES:
        raise KeyError(service)
    return importlib.import_module(f"services.{service}.bootstrap").ROLES


def service_roles(service: str) -> dict[str, Callable[[], Any]]:
    """The processes a service's bootstrap declares (api, relay, consumer, scheduler), each a callable."""
    return {role: run for role, run in service_entries(service).items() if role not in ONE_SHOT}


def service_matrix(service: str) -> RoleMatrix:
    """A service's role matrix, from its own ``roles`` module."""
    if service not in SERVICES:
        raise KeyError(service)
    return importlib.import_module(f"services.{service}.roles").MATRIX


def service_consumers(service: str) -> dict[str, Callable[..., Any]]:
    """A service's consumers by name (``CONSUMERS`` in its bootstrap), each a function ``(role) -> ConsumerSpec``
    that wires it as its process does; a service without consumers (registry) has none."""
    if service not in SERVICES:
        raise KeyError(service)
    return dict(getattr(importlib.import_module(f"services.{service}.bootstrap"), "CONSUMERS", {}))
