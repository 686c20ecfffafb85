"""Attendance settings (BAOXUE_ prefix): absence rule threshold, day cut-off and the school calendar."""

from __future__ import annotations

import re
from datetime import date, time

from pydantic import Field, field_validator

from services.attendance.domain.configuration import parse_cutoff
from services.runtime.settings import ServiceSettings


class AttendanceSettings(ServiceSettings):
    """Local rules vary (48 hours, one week...): thresholds and calendars are configuration, not code."""

    absence_threshold_days: int = Field(2, ge=1, le=60, description="Consecutive unexcused school days that flag 疑似辍学")
    day_close_cutoff: str = Field(
        "18:00", description="Default local time (HH:MM) after which the scheduler closes a county's day (a county may set its own)"
    )
    holidays: list[date] = Field(default_factory=list, description="Weekdays that are not school days (JSON list)")
    makeup_days: list[date] = Field(default_factory=list, description="Weekend days that are school days (调休)")
    scheduler_interval_s: float = Field(30.0, gt=0, description="How often the scheduler looks for days to close")
    max_checkin_batch: int = Field(10_000, ge=1, le=100_000)
    max_leave_batch: int = Field(1_000, ge=1, le=10_000, description="Leave records per synced batch (POST /v1/leaves/batch)")
    leave_sync_past_days: int = Field(120, ge=0, le=366, description="A synced leave may start at most this many days ago")
    leave_sync_future_days: int = Field(366, ge=0, le=731, description="A synced leave may end at most this many days ahead")
    chronic_absence_ratio: float = Field(0.10, gt=0, le=1, description="Share of the term's school days that flags 经常性缺勤")
    term_start_days: int = Field(3, ge=1, le=30, description="返校核查: first school days of term a student must be seen in")
    correction_window_days: int = Field(7, ge=0, le=90, description="Calendar days after which a closed day cannot be corrected")
    long_leave_school_days: int = Field(10, ge=1, le=200, description="Approved leave of at least this many school days is long")
    config_ttl_s: float = Field(5.0, ge=0, description="How long an API process keeps calendars and rules before re-reading")
    close_chunk_schools: int = Field(50, ge=1, le=1000, description="Schools closed per transaction by a bulk close")
    ingest_rate_per_s: float = Field(20.0, gt=0, description="Check-in requests per second per client (token bucket refill)")
    ingest_burst: int = Field(40, ge=1, description="Check-in requests a client may send at once (token bucket size)")
    roster_cache_students: int = Field(2_000_000, ge=0, description="Student ids an API process keeps in its roster cache")
    snapshot_every: int = Field(
        5, ge=0, le=10_000, description="Events of a student's attendance record between snapshots (0: no snapshots)"
    )

    @field_validator("day_close_cutoff")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", value):
            raise ValueError("BAOXUE_DAY_CLOSE_CUTOFF must be HH:MM (24-hour local time)")
        return value

    def cutoff_time(self) -> time:
        """The default cut-off as a time of day."""
        return parse_cutoff(self.day_close_cutoff)

