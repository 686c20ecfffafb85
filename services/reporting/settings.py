"""Reporting settings (BAOXUE_ prefix)."""

from services.runtime.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    """Reporting needs nothing beyond the runtime's settings yet (its event store comes with monthly reports)."""
