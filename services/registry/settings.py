"""Registry settings (BAOXUE_ prefix)."""

from services.runtime.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    """The registry needs nothing beyond the runtime's settings yet."""
