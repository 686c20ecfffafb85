"""Request and response models of the attendance API (XCreate in, XPublic out)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.attendance.application.leave_sync import LeaveSyncItem
from services.runtime.validation import FiniteFloat, SafeId, SafeLine, SafeText


class CheckinItem(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    student_id: SafeId = Field(min_length=1, max_length=64)
    status: Literal["present", "late", "left_early"] = "present"
    checked_at: datetime | None = Field(None, description="When the student was seen (ISO 8601; naive = local time)")
    device: SafeId | None = Field(None, max_length=64, description="Gate, card reader or app that saw the student")


class CheckinBatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[CheckinItem] = Field(description="Up to 10,000 check-ins for one school and day")


class CheckinBulkItem(BaseModel):
    """One row of a multi-school batch; documents the body (the route parses it with orjson, not per row)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    school_id: SafeId = Field(min_length=1, max_length=64)
    student_id: SafeId = Field(min_length=1, max_length=64)
    status: Literal["present", "late", "left_early"] = "present"
    checked_at: datetime | None = Field(None, description="When the student was seen (ISO 8601; naive = local time)")
    device: SafeId | None = Field(None, max_length=64, description="Gate, card reader or app that saw the student")


def bulk_body_schema() -> dict[str, Any]:
    """The JSON Schema of ``{"items": [CheckinBulkItem, ...]}`` for the OpenAPI document (inline, no refs)."""
    return items_body_schema(
        "CheckinBulkCreate", CheckinBulkItem, 10_000, "Up to 10,000 check-ins for the schools the client covers, one day"
    )


def items_body_schema(title: str, item: type[BaseModel], limit: int, description: str) -> dict[str, Any]:
    """The JSON Schema of a ``{"items": [item, ...]}`` body parsed by the route itself (inline, no refs)."""
    return {
        "type": "object",
        "title": title,
        "additionalProperties": False,
        "required": ["items"],
        "properties": {
            "items": {
                "type": "array",
                "minItems": 1,
                "maxItems": limit,
                "items": item.model_json_schema(),
                "description": description,
            }
        },
    }


class CheckinBatchPublic(BaseModel):
    school_id: str | None
    day: date
    received: int
    accepted: int
    duplicates: int
    resumed: int = 0


class DaySummaryPublic(BaseModel):
    school_id: str
    day: date
    township_code: str
    status: Literal["open", "closed"]
    enrolled: int
    present: int
    on_leave: int
    absent: int
    absent_student_ids: list[str]
    closed_at: datetime | None = None
    closed_by: str | None = None
    corrections: int = 0


class CountyClosePublic(BaseModel):
    county_code: str
    day: date
    schools: int
    absent: int


class RosterStudentPublic(BaseModel):
    student_id: str
    grade: int | None
    class_name: str | None
    expected: bool = Field(True, description="Expected at school every school day; false for 送教上门 (never absent)")


class RosterPublic(BaseModel):
    school_id: str
    township_code: str
    count: int
    students: list[RosterStudentPublic]


class CorrectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    student_id: SafeId = Field(min_length=1, max_length=64)
    status: Literal["present", "on_leave"] = Field(description="What the student really was that day")
    reason: SafeText = Field(min_length=1, max_length=500, description="Why (更正理由)")


class LeaveCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    student_id: SafeId = Field(min_length=1, max_length=64)
    first_day: date
    last_day: date
    kind: Literal["sick", "personal", "family", "other"] = "personal"
    reason: SafeText = Field("", max_length=500)


class LeaveDecisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: SafeText = Field("", max_length=500)


class LeavePublic(BaseModel):
    leave_id: str
    student_id: str
    school_id: str
    first_day: date
    last_day: date
    kind: str
    status: str
    school_days: int
    long_leave: bool
    corrected_days: list[date] = []


def leave_batch_body_schema(limit: int) -> dict[str, Any]:
    """The JSON Schema of ``{"items": [LeaveSyncItem, ...]}`` for the OpenAPI document."""
    return items_body_schema(
        "LeaveBatchCreate", LeaveSyncItem, limit, f"Up to {limit:,} approved leave records for the schools the client covers"
    )


class LeaveCorrectionPublic(BaseModel):
    index: int = Field(description="The item's position in the batch")
    leave_id: str
    days: list[date] = Field(description="Closed days whose absence this leave corrected (更正)")


class LeaveBatchPublic(BaseModel):
    received: int
    recorded: int = Field(description="New leave recorded (requested and approved)")
    duplicates: int = Field(description="Items whose leave was already recorded (a resend): nothing new written")
    leave_ids: list[str] = Field(description="The leave id of each item, in item order")
    corrected: list[LeaveCorrectionPublic] = Field(default_factory=list, description="Only items that corrected a closed day")


class TermCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SafeLine = Field("学期", max_length=64)
    start: date
    end: date


class DateRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: date
    end: date | None = None


class CalendarCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    terms: list[TermCreate] = Field(default_factory=list, max_length=20)
    holidays: list[date | DateRange] = Field(default_factory=list, max_length=400)
    makeup_days: list[date | DateRange] = Field(default_factory=list, max_length=100)

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class CalendarPublic(BaseModel):
    county_code: str
    version: int
    terms: list[dict[str, Any]]
    holidays: list[date]
    makeup_days: list[date]


class RulesCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consecutive_days: int | None = Field(None, ge=1, le=60)
    chronic_ratio: FiniteFloat | None = Field(None, gt=0, le=1)
    term_start_days: int | None = Field(None, ge=1, le=30)
    correction_window_days: int | None = Field(None, ge=0, le=90)
    long_leave_school_days: int | None = Field(None, ge=1, le=200)


class RulesPublic(BaseModel):
    jurisdiction: str
    version: int
    consecutive_days: int
    chronic_ratio: float
    term_start_days: int
    correction_window_days: int
    long_leave_school_days: int


class DayCloseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cutoff: str = Field(
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="Local time (24-hour HH:MM) after which the county's day closes"
    )


class DayClosePublic(BaseModel):
    county_code: str
    version: int = Field(description="1 = the configured default (BAOXUE_DAY_CLOSE_CUTOFF); each change adds one")
    cutoff: str

