"""Every known contract by CloudEvents type; apart from ``base`` so that base and the contract modules form no circle."""

from __future__ import annotations

from contracts.base import Contract, registered


def registry() -> dict[str, type[Contract]]:
    """Every known contract by CloudEvents type (importing all contract modules first)."""
    import contracts.events  # noqa: F401  (registers every contract)

    return registered()


def contract_for_type(ce_type: str) -> type[Contract] | None:
    """The contract class for a CloudEvents type, or None when unknown."""
    return registry().get(ce_type)
