"""Casework settings (BAOXUE_ prefix)."""

from pydantic import Field

from services.runtime.settings import ServiceSettings


class CaseworkSettings(ServiceSettings):
    """Casework's own knobs beside the runtime's."""

    case_index_batch_size: int = Field(500, ge=1, le=10_000, description="Events per case-index catch-up transaction")
    case_page_size_max: int = Field(200, ge=1, le=1_000, description="Largest page a case list may ask for")
