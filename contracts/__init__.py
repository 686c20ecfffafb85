"""The public language between Baoxue services: versioned event contracts, the envelope, topic names."""

from contracts.base import Contract
from contracts.catalog import contract_for_type, registry
from contracts.envelope import Envelope
from contracts import topics

__all__ = ["Contract", "Envelope", "contract_for_type", "registry", "topics"]
