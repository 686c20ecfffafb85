"""Attendance HTTP API: bulk check-ins, closing and correcting school days, leave, calendars and rules, all scoped."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from services.attendance.application import AttendanceApp, CheckinResult, DaySummary
from services.attendance.bulk import parse_batch, parse_leave_batch
from services.attendance.calendars import read_calendar_file
from services.attendance.domain import BatchRejected, Conflict, InvalidInput, NotFound
from services.attendance.errors import CalendarFileRejected
from services.attendance.leave_requests import LeaveResult
from services.attendance.leave_sync import LeaveBatchResult
from services.attendance.ports import CheckinRow, SchoolRow
from services.attendance.ratelimit import RateLimited, SharedTokenBuckets, TokenBuckets
from services.attendance.roles import MATRIX
from services.attendance.schemas import (
    CalendarCreate,
    CalendarPublic,
    CheckinBatchCreate,
    CheckinBatchPublic,
    bulk_body_schema,
    CorrectionCreate,
    CountyClosePublic,
    DayCloseCreate,
    DayClosePublic,
    DaySummaryPublic,
    LeaveBatchPublic,
    LeaveCreate,
    LeaveDecisionCreate,
    LeavePublic,
    RosterPublic,
    RosterStudentPublic,
    RulesCreate,
    RulesPublic,
    leave_batch_body_schema,
)
from services.runtime.auth import Actor, CurrentActor, require_scope
from services.runtime.bootstrap import Runtime, base_app
from services.runtime.web import CommandMeta, seal

ERRORS: dict[type[Exception], int] = {InvalidInput: 422, Conflict: 409, NotFound: 404}

SchoolId = Annotated[str, Path(min_length=1, max_length=64, description="School id from the registry")]
Day = Annotated[date, Path(description="School date, YYYY-MM-DD (local time)")]
Code = Annotated[str, Path(pattern=r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3}([0-9]{3})?)?)?)?$", description="行政区划 code")]
CountyCode = Annotated[str, Path(pattern=r"^[0-9]{6}$", description="County code (6 digits)")]


def batch_rejected_handler(_request: Request, exc: Exception) -> JSONResponse:
    """422 naming every bad row, so the sender can fix them all at once."""
    assert isinstance(exc, BatchRejected)
    body = {"code": exc.code, "message": str(exc), "rule": exc.rule, "errors": [asdict(e) for e in exc.errors]}
    return JSONResponse({"detail": body}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def calendar_rejected_handler(_request: Request, exc: Exception) -> JSONResponse:
    """422 naming every bad row of a calendar file (CSV line or JSON path)."""
    assert isinstance(exc, CalendarFileRejected)
    body = {"code": exc.code, "message": str(exc), "rule": exc.rule, "errors": [asdict(e) for e in exc.errors]}
    return JSONResponse({"detail": body}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def rate_limited_handler(_request: Request, exc: Exception) -> JSONResponse:
    """429 with Retry-After, so a well-behaved client backs off exactly as long as needed."""
    assert isinstance(exc, RateLimited)
    retry = max(1, int(exc.retry_after + 0.999))
    body = {"code": exc.code, "message": str(exc), "rule": exc.rule, "retry_after_s": round(exc.retry_after, 3)}
    return JSONResponse({"detail": body}, status_code=429, headers={"Retry-After": str(retry)})


def require_school_access(actor: Actor, school: SchoolRow) -> None:
    """Inside the caller's jurisdiction, and for a machine client, one of the schools its token names."""
    require_scope(actor, school.township_code, "学校")
    if actor.role == "attendance_system" and school.school_id not in (actor.schools or []):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail={"code": "school_not_covered", "message": f"该考勤系统未获准为学校 {school.school_id} 上报"},
        )


def scoped_schools(attendance: AttendanceApp, actor: Actor, school_ids: list[str]) -> dict[str, SchoolRow]:
    """A batch's schools once the caller may write to each: a machine client's token names them all, and the caller's
    jurisdiction covers each known one's township (unknown ones are left to the use case to name)."""
    ids = sorted(set(school_ids))
    if actor.role == "attendance_system":
        covered = set(actor.schools or [])
        for school_id in ids:
            if school_id not in covered:
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN,
                    detail={"code": "school_not_covered", "message": f"该考勤系统未获准为学校 {school_id} 上报"},
                )
    schools = attendance.store.schools_by_id(ids)
    for school in schools.values():  # the school's own county, as registry said, whatever the token claims
        require_scope(actor, school.township_code, "学校")
    return schools


def default_buckets(attendance: AttendanceApp) -> TokenBuckets | SharedTokenBuckets:
    """One limit per client across every API worker (PostgreSQL); in-process only for an in-memory store."""
    settings = attendance.settings
    db = getattr(attendance.store, "db", None)
    if db is None:
        return TokenBuckets(settings.ingest_rate_per_s, settings.ingest_burst)
    return SharedTokenBuckets(db, settings.ingest_rate_per_s, settings.ingest_burst)


def create_app(
    runtime: Runtime, attendance: AttendanceApp, buckets: TokenBuckets | SharedTokenBuckets | None = None
) -> FastAPI:
    """The attendance API bound to its application."""
    app = base_app(
        runtime,
        title="Baoxue attendance (考勤)",
        description="Check-ins in bulk, day closing and corrections, leave, calendars, absence rules. Bearer token needed.",
        errors=ERRORS,
        roles=MATRIX,
    )
    buckets = buckets or default_buckets(attendance)
    app.add_exception_handler(BatchRejected, batch_rejected_handler)
    app.add_exception_handler(CalendarFileRejected, calendar_rejected_handler)
    app.add_exception_handler(RateLimited, rate_limited_handler)
    router = APIRouter(prefix="/v1/schools/{school_id}", tags=["attendance"])

    @router.post("/days/{day}/checkins", response_model=CheckinBatchPublic, status_code=200)
    def record_checkins(
        school_id: SchoolId, day: Day, body: CheckinBatchCreate, actor: CurrentActor, meta: CommandMeta
    ) -> CheckinResult:
        """Stores a batch of check-ins; a repeated batch is accepted again and stores nothing new."""
        buckets.take(actor.user_id)
        require_school_access(actor, attendance.school(school_id))
        rows = [CheckinRow(i.student_id, i.status, _aware(i.checked_at, attendance), i.device) for i in body.items]
        return attendance.record_checkins(school_id, day, rows, meta)

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
    _mount_bulk(app, attendance, buckets)
    _mount_configuration(app, attendance)
    return seal(app)


def _mount_bulk(app: FastAPI, attendance: AttendanceApp, buckets: TokenBuckets | SharedTokenBuckets) -> None:
    """Province-scale routes: multi-school check-in and leave batches, county-wide closing."""

    def ingest(day: date, body: bytes, actor: Actor, meta: dict) -> CheckinResult:
        """Limit, parse, scope and store one batch (in a worker thread: the event loop keeps reading other requests)."""
        buckets.take(actor.user_id)  # a database round trip: never on the event loop
        batch = parse_batch(body, attendance.tz, attendance.settings.max_checkin_batch)
        schools = scoped_schools(attendance, actor, batch.school_ids)
        return attendance.record_checkins_bulk(day, batch, meta, schools=schools)

    @app.post(
        "/v1/days/{day}/checkins",
        response_model=CheckinBatchPublic,
        tags=["attendance"],
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": bulk_body_schema()}}}},
    )
    async def record_checkins_bulk(day: Day, request: Request, actor: CurrentActor, meta: CommandMeta) -> CheckinResult:
        """Up to 10,000 check-ins across the schools a client covers: ``{"items": [{school_id, student_id, ...}]}``."""
        body = await request.body()
        return await run_in_threadpool(ingest, day, body, actor, meta)

    def sync(body: bytes, actor: Actor, meta: dict) -> LeaveBatchResult:
        """Limit, parse, scope and record one leave batch (in a worker thread, like a check-in batch)."""
        buckets.take(actor.user_id)
        items = parse_leave_batch(body, attendance.settings.max_leave_batch)
        schools = scoped_schools(attendance, actor, [i.school_id for i in items])
        return attendance.sync_leaves(items, meta, schools=schools)

    @app.post(
        "/v1/leaves/batch",
        response_model=LeaveBatchPublic,
        tags=["leave"],
        responses={
            403: {"description": "school_not_covered / out_of_jurisdiction: a school outside the caller's scope"},
            422: {"description": "batch_rejected: errors [{index, external_id, field, code, reason}], one per bad item"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": leave_batch_body_schema(attendance.settings.max_leave_batch)}},
            }
        },
    )
    async def sync_leaves(request: Request, actor: CurrentActor, meta: CommandMeta) -> LeaveBatchResult:
        """Leave already approved in schools' own attendance systems (请假同步), many schools per batch: each item is
        recorded as requested and approved (closed days inside the window corrected); a resent item is a duplicate."""
        body = await request.body()
        return await run_in_threadpool(sync, body, actor, meta)

    @app.post("/v1/counties/{county_code}/days/{day}/close", response_model=CountyClosePublic, tags=["attendance"])
    def close_county_day(county_code: CountyCode, day: Day, actor: CurrentActor, meta: CommandMeta) -> CountyClosePublic:
        """Closes the day for every school of a county that has it as a school day (batched saves)."""
        require_scope(actor, county_code, "县")
        today = attendance.clock.today()
        if day > today:
            attendance.calendar.check_roll_day(day, today)
        schools = [s for s in attendance.store.schools(county_code) if attendance.calendar_for(s).is_school_day(day)]
        summaries = attendance.close_days(day, schools, meta)
        return CountyClosePublic(county_code=county_code, day=day, schools=len(summaries), absent=sum(s.absent for s in summaries))


def _mount_configuration(app: FastAPI, attendance: AttendanceApp) -> None:
    """Calendars per county and rules per jurisdiction, each change an event with its actor."""

    @app.put("/v1/counties/{county_code}/calendar", response_model=CalendarPublic, tags=["configuration"])
    def set_calendar(county_code: CountyCode, body: CalendarCreate, actor: CurrentActor, meta: CommandMeta) -> CalendarPublic:
        """Sets the county's school calendar (terms, holidays, make-up days); a file import sends the same body."""
        require_scope(actor, county_code, "县")
        calendar = attendance.set_calendar(county_code, body.body(), meta)
        return CalendarPublic(county_code=county_code, version=calendar.version, **calendar.to_body())

    @app.post(
        "/v1/counties/{county_code}/calendar/import",
        response_model=CalendarPublic,
        tags=["configuration"],
        responses={422: {"description": "calendar_rejected: errors [{line, field, code, reason}], one per bad row"}},
        openapi_extra=_CALENDAR_UPLOAD,
    )
    async def import_calendar(
        county_code: CountyCode,
        request: Request,
        actor: CurrentActor,
        meta: CommandMeta,
        filename: Annotated[str | None, Query(max_length=200, description="Decides JSON/CSV for a raw body")] = None,
    ) -> CalendarPublic:
        """Imports the county's calendar from a file (multipart field ``file``, or the raw body): JSON as the PUT body,
        or CSV ``kind,start,end,name``; a file with any bad row is refused whole, naming each (line or JSON path)."""
        require_scope(actor, county_code, "县")
        content, name = await _calendar_upload(request, filename)
        body = read_calendar_file(content, name)
        calendar = await run_in_threadpool(attendance.set_calendar, county_code, body, meta)
        return CalendarPublic(county_code=county_code, version=calendar.version, **calendar.to_body())

    @app.get("/v1/counties/{county_code}/calendar", response_model=CalendarPublic, tags=["configuration"])
    def get_calendar(county_code: CountyCode, actor: CurrentActor) -> CalendarPublic:
        require_scope(actor, county_code, "县")
        calendar = attendance.calendar_for(SchoolRow("", county_code, county_code))
        return CalendarPublic(county_code=county_code, version=calendar.version, **calendar.to_body())

    @app.put("/v1/counties/{county_code}/day-close", response_model=DayClosePublic, tags=["configuration"])
    def set_day_close(county_code: CountyCode, body: DayCloseCreate, actor: CurrentActor, meta: CommandMeta) -> DayClosePublic:
        """Sets the county's cut-off (关账时间, local HH:MM): after it the scheduler closes the county's day."""
        require_scope(actor, county_code, "县")
        config = attendance.set_day_close(county_code, body.model_dump(), meta)
        return DayClosePublic(county_code=county_code, version=config.version, cutoff=config.cutoff)

    @app.get("/v1/counties/{county_code}/day-close", response_model=DayClosePublic, tags=["configuration"])
    def get_day_close(county_code: CountyCode, actor: CurrentActor) -> DayClosePublic:
        """The cut-off in force: the county's own, or the configured default (version 1)."""
        require_scope(actor, county_code, "县")
        config = attendance.day_close_for(county_code)
        return DayClosePublic(county_code=county_code, version=config.version, cutoff=config.cutoff)

    @app.put("/v1/jurisdictions/{code}/rules", response_model=RulesPublic, tags=["configuration"])
    def set_rules(code: Code, body: RulesCreate, actor: CurrentActor, meta: CommandMeta) -> RulesPublic:
        """Sets the absence rules of a jurisdiction (a new version); unset fields keep the defaults."""
        require_scope(actor, code, "辖区")
        rules = attendance.set_rules(code, body.model_dump(exclude_none=True), meta)
        return RulesPublic(jurisdiction=code, version=rules.version, **rules.to_body())

    @app.get("/v1/jurisdictions/{code}/rules", response_model=RulesPublic, tags=["configuration"])
    def get_rules(code: Code, actor: CurrentActor) -> RulesPublic:
        require_scope(actor, code, "辖区")
        rules = attendance.rules_for(code)
        return RulesPublic(jurisdiction=code, version=rules.version, **rules.to_body())


_CALENDAR_UPLOAD = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary", "description": "the .csv or .json file"}},
                }
            },
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


async def _calendar_upload(request: Request, filename: str | None) -> tuple[bytes, str]:
    """The file: a multipart upload (field ``file``; its name decides JSON/CSV) or the raw body."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=1, max_fields=5)
        except Exception as exc:  # a malformed multipart body is the caller's error
            raise HTTPException(422, detail={"code": "multipart_invalid", "message": "无法解析上传的文件"}) from exc
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            await form.close()
            raise HTTPException(422, detail={"code": "file_missing", "message": "请以 file 字段上传校历文件"})
        content = await upload.read()
        name = filename or upload.filename or "calendar.csv"
        await form.close()
        return content, name
    content_type = request.headers.get("content-type", "")
    return await request.body(), filename or ("calendar.json" if "json" in content_type else "calendar.csv")


def _aware(at: datetime | None, attendance: AttendanceApp) -> datetime | None:
    """A naive timestamp from a school device is local time."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=attendance.tz)
