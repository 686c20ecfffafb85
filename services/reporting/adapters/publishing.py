"""The stored-event → contract mapping, in the same home and under the same name as every service's.

Reporting publishes nothing yet: its only events are the monthly reports' own (Sealed, Submitted, Approved,
SentBack, Restated), and publishing them needs report contracts in ``contracts/`` first. Until then no stored
event maps to a contract, and reporting runs no relay.
"""

from __future__ import annotations

from typing import Any

from contracts import Contract


def to_contract(domain_event: Any) -> Contract | None:
    """None for every stored event: reporting has no public events yet."""
    return None
