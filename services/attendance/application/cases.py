"""The collaborators the attendance use cases share, handed in once by the composition (constructor injection)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from services.attendance.application.app import AttendanceApp
from services.attendance.application.configuration import Configuration
from services.attendance.application.ports import AttendanceStore
from services.attendance.application.queries import Queries
from services.attendance.settings import AttendanceSettings
from services.runtime.clock import Clock


class UseCases:
    """Event store, read models, clock, settings, configuration and queries: what a use case loads, decides with
    and saves to."""

    def __init__(
        self,
        events: AttendanceApp,
        store: AttendanceStore,
        clock: Clock,
        settings: AttendanceSettings,
        config: Configuration,
        queries: Queries,
    ) -> None:
        self.events = events
        self.store = store
        self.clock = clock
        self.settings = settings
        self.config = config
        self.queries = queries
        self.tz = ZoneInfo(settings.timezone)
