"""Attendance HTTP API: bulk check-ins, closing a school day, day summaries and rosters, all jurisdiction-scoped."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Path, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.attendance.application import AttendanceApp, CheckinResult, DaySummary
from services.attendance.domain import BatchRejected, Conflict, InvalidInput, NotFound
from services.attendance.ports import CheckinRow, SchoolRow
from services.runtime.auth import Actor, CurrentActor, require_role, require_scope
from services.runtime.bootstrap import Runtime, base_app
from services.runtime.web import CommandMeta

ERRORS: dict[type[Exception], int] = {InvalidInput: 422, Conflict: 409, NotFound: 404}
CHECKIN_ROLES = ("attendance_system", "school_staff", "head_teacher", "county_officer", "township_officer")
CLOSE_ROLES = ("school_staff", "county_officer", "township_officer")

SchoolId = Annotated[str, Path(min_length=1, max_length=64, description="School id from the registry")]
Day = Annotated[date, Path(description="School date, YYYY-MM-DD (local time)")]


class CheckinItem(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    student_id: str = Field(min_length=1, max_length=64)
    status: Literal["present", "late", "left_early"] = "present"
    checked_at: datetime | None = Field(None, description="When the student was seen (ISO 8601; naive = local time)")
    device: str | None = Field(None, max_length=64, description="Gate, card reader or app that saw the student")


class CheckinBatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[CheckinItem] = Field(description="Up to 10,000 check-ins for one school and day")


class CheckinBatchPublic(BaseModel):
    school_id: str
    day: date
    received: int
    accepted: int
    duplicates: int


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


class RosterStudentPublic(BaseModel):
    student_id: str
    grade: int
    class_name: str


class RosterPublic(BaseModel):
    school_id: str
    township_code: str
    count: int
    students: list[RosterStudentPublic]


def batch_rejected_handler(_request: Request, exc: Exception) -> JSONResponse:
    """422 naming every bad row, so the sender can fix them all at once."""
    assert isinstance(exc, BatchRejected)
    body = {
        "code": exc.code,
        "message": str(exc),
        "rule": exc.rule,
        "errors": [asdict(e) for e in exc.errors],
    }
    return JSONResponse({"detail": body}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def require_school_access(actor: Actor, school: SchoolRow) -> None:
    """Inside the caller's jurisdiction, and for a machine client, one of the schools its token names."""
    require_scope(actor, school.township_code, "学校")
    if actor.role == "attendance_system" and school.school_id not in (actor.schools or []):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail={"code": "school_not_covered", "message": f"该考勤系统未获准为学校 {school.school_id} 上报"},
        )


def create_app(runtime: Runtime, attendance: AttendanceApp) -> FastAPI:
    """The attendance API bound to its application."""
    app = base_app(
        runtime,
        title="Baoxue attendance (考勤)",
        description="Check-ins in bulk, day closing, absence rules. Every call needs a bearer token.",
        errors=ERRORS,
    )
    app.add_exception_handler(BatchRejected, batch_rejected_handler)
    router = APIRouter(prefix="/v1/schools/{school_id}", tags=["attendance"])

    @router.post("/days/{day}/checkins", response_model=CheckinBatchPublic, status_code=200)
    def record_checkins(school_id: SchoolId, day: Day, body: CheckinBatchCreate, actor: CurrentActor) -> CheckinResult:
        """Stores a batch of check-ins; a repeated batch is accepted again and stores nothing new."""
        require_role(actor, *CHECKIN_ROLES)
        require_school_access(actor, attendance.school(school_id))
        rows = [CheckinRow(i.student_id, i.status, _aware(i.checked_at, attendance), i.device) for i in body.items]
        return attendance.record_checkins(school_id, day, rows)

    @router.post("/days/{day}/close", response_model=DaySummaryPublic)
    def close_day(school_id: SchoolId, day: Day, actor: CurrentActor, meta: CommandMeta) -> DaySummary:
        """Closes the roll: each active student without check-in or leave is recorded absent."""
        require_role(actor, *CLOSE_ROLES)
        require_school_access(actor, attendance.school(school_id))
        return attendance.close_day(school_id, day, meta)

    @router.get("/days/{day}", response_model=DaySummaryPublic)
    def day_summary(school_id: SchoolId, day: Day, actor: CurrentActor) -> DaySummary:
        require_school_access(actor, attendance.school(school_id))
        return attendance.day_summary(school_id, day)

    @router.get("/roster", response_model=RosterPublic)
    def roster(school_id: SchoolId, actor: CurrentActor) -> RosterPublic:
        require_school_access(actor, attendance.school(school_id))
        view = attendance.roster(school_id)
        return RosterPublic(
            school_id=view.school_id,
            township_code=view.township_code,
            count=view.count,
            students=[
                RosterStudentPublic(student_id=s.student_id, grade=s.grade, class_name=s.class_name) for s in view.students
            ],
        )

    app.include_router(router)
    return app


def _aware(at: datetime | None, attendance: AttendanceApp) -> datetime | None:
    """A naive timestamp from a school device is local time."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=attendance.tz)
