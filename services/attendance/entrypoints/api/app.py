"""Attendance HTTP API: the school routes (check-ins, closing and correcting school days, leave) and the app itself,
with the bulk and configuration routes mounted from their modules; every route scoped."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query

from services.attendance.adapters.ratelimit import SharedTokenBuckets, TokenBuckets
from services.attendance.application.checkins import CheckinResult
from services.attendance.application.leave_requests import LeaveResult
from services.attendance.application.queries import DaySummary
from services.attendance.application.service import Attendance
from services.attendance.domain.values import CheckinRow
from services.attendance.entrypoints.api.access import require_school_access
from services.attendance.entrypoints.api.bulk_routes import mount_bulk
from services.attendance.entrypoints.api.configuration import mount_configuration
from services.attendance.entrypoints.api.errors import add_error_handlers
from services.attendance.entrypoints.api.params import Day, SchoolId
from services.attendance.entrypoints.api.schemas import (
    CheckinBatchCreate,
    CheckinBatchPublic,
    CorrectionCreate,
    DaySummaryPublic,
    LeaveCreate,
    LeaveDecisionCreate,
    LeavePublic,
    RosterPublic,
    RosterStudentPublic,
)
from services.attendance.roles import MATRIX
from services.runtime.auth import CurrentActor
from services.runtime.bootstrap import Runtime, base_app
from services.runtime.web import CommandMeta, seal


def default_buckets(attendance: Attendance) -> TokenBuckets | SharedTokenBuckets:
    """One limit per client across every API worker (PostgreSQL); in-process only for an in-memory store."""
    settings = attendance.settings
    db = getattr(attendance.store, "db", None)
    if db is None:
        return TokenBuckets(settings.ingest_rate_per_s, settings.ingest_burst)
    return SharedTokenBuckets(db, settings.ingest_rate_per_s, settings.ingest_burst)


def create_app(
    runtime: Runtime, attendance: Attendance, buckets: TokenBuckets | SharedTokenBuckets | None = None
) -> FastAPI:
    """The attendance API bound to its application."""
    app = base_app(
        runtime,
        title="Baoxue attendance (考勤)",
        description="Check-ins in bulk, day closing and corrections, leave, calendars, absence rules. Bearer token needed.",
        roles=MATRIX,
    )
    buckets = buckets or default_buckets(attendance)
    add_error_handlers(app)
    router = APIRouter(prefix="/v1/schools/{school_id}", tags=["attendance"])

    @router.post("/days/{day}/checkins", response_model=CheckinBatchPublic, status_code=200)
    def record_checkins(
        school_id: SchoolId, day: Day, body: CheckinBatchCreate, actor: CurrentActor, meta: CommandMeta
    ) -> CheckinResult:
        """Stores a batch of check-ins; a repeated batch is accepted again and stores nothing new."""
        buckets.take(actor.user_id)
        require_school_access(actor, attendance.school(school_id))
        rows = [CheckinRow(i.student_id, i.status, _aware(i.checked_at, attendance), i.device) for i in body.items]
        result = attendance.record_checkins(school_id, day, rows, meta)
        runtime.metrics.checkins_recorded.labels(runtime.service).inc(result.accepted)  # new rows, not repeats
        return result

    @router.post("/days/{day}/close", response_model=DaySummaryPublic)
    def close_day(school_id: SchoolId, day: Day, actor: CurrentActor, meta: CommandMeta) -> DaySummary:
        """Closes the roll: each active student without check-in or leave is recorded absent."""
        require_school_access(actor, attendance.school(school_id))
        return attendance.close_day(school_id, day, meta)

    @router.post("/days/{day}/corrections", response_model=DaySummaryPublic)
    def correct_day(school_id: SchoolId, day: Day, body: CorrectionCreate, actor: CurrentActor, meta: CommandMeta) -> DaySummary:
        """Corrects a recorded absence (更正) within the window; what the absence caused is retracted."""
        require_school_access(actor, attendance.school(school_id))
        return attendance.correct_day(school_id, day, body.student_id, body.status, body.reason, meta)

    @router.get("/days/{day}", response_model=DaySummaryPublic)
    def day_summary(school_id: SchoolId, day: Day, actor: CurrentActor) -> DaySummary:
        require_school_access(actor, attendance.school(school_id))
        return attendance.day_summary(school_id, day)

    @router.get("/roster", response_model=RosterPublic)
    def roster(school_id: SchoolId, actor: CurrentActor) -> RosterPublic:
        require_school_access(actor, attendance.school(school_id))
        view = attendance.roster(school_id)
        students = [RosterStudentPublic(student_id=s.student_id, grade=s.grade, class_name=s.class_name, expected=s.expected) for s in view.students]
        return RosterPublic(school_id=view.school_id, township_code=view.township_code, count=view.count, students=students)

    @router.post("/leaves", response_model=LeavePublic, status_code=201)
    def request_leave(school_id: SchoolId, body: LeaveCreate, actor: CurrentActor, meta: CommandMeta) -> LeaveResult:
        """Records a leave request (请假) for a student of the school."""
        require_school_access(actor, attendance.school(school_id))
        return attendance.request_leave(school_id, body.student_id, body.first_day, body.last_day, body.kind, body.reason, meta)

    @router.post("/leaves/{leave_id}/approve", response_model=LeavePublic)
    def approve_leave(
        school_id: SchoolId, leave_id: str, body: LeaveDecisionCreate, actor: CurrentActor, meta: CommandMeta
    ) -> LeaveResult:
        """Approves leave: those days are never absences (closed days inside the window are corrected)."""
        require_school_access(actor, attendance.school(school_id))
        return attendance.decide_leave(school_id, leave_id, True, body.note, meta)

    @router.post("/leaves/{leave_id}/reject", response_model=LeavePublic)
    def reject_leave(
        school_id: SchoolId, leave_id: str, body: LeaveDecisionCreate, actor: CurrentActor, meta: CommandMeta
    ) -> LeaveResult:
        require_school_access(actor, attendance.school(school_id))
        return attendance.decide_leave(school_id, leave_id, False, body.note, meta)

    @router.get("/leaves", response_model=list[LeavePublic])
    def list_leaves(
        school_id: SchoolId,
        actor: CurrentActor,
        on: Annotated[date | None, Query(description="Only leave covering this date")] = None,
        long_only: Annotated[bool, Query(alias="long", description="Only long leave (长期请假)")] = False,
    ) -> list[LeavePublic]:
        """Leave of the school; ``long=true`` shows long approved leave, which casework and schools must see."""
        school = attendance.school(school_id)
        require_school_access(actor, school)
        rules = attendance.rules_for(school.township_code)
        minimum = rules.long_leave_school_days if long_only else 0
        return [
            LeavePublic(**asdict(v), long_leave=v.school_days >= rules.long_leave_school_days)
            for v in attendance.store.leaves(school_id, on, minimum)
            if not long_only or v.status == "approved"
        ]

    app.include_router(router)
    mount_bulk(app, attendance, buckets)
    mount_configuration(app, attendance)
    return seal(app)


def _aware(at: datetime | None, attendance: Attendance) -> datetime | None:
    """A naive timestamp from a school device is local time."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=attendance.tz)
