"""Province-scale routes: multi-school check-in and leave batches (parsed with orjson), county-wide closing."""

from __future__ import annotations

from datetime import date

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool

from services.attendance.adapters.ratelimit import SharedTokenBuckets, TokenBuckets
from services.attendance.application.checkins import CheckinResult
from services.attendance.application.leave_sync import LeaveBatchResult
from services.attendance.application.service import Attendance
from services.attendance.entrypoints.api.access import scoped_schools
from services.attendance.entrypoints.api.bulk import parse_batch, parse_leave_batch
from services.attendance.entrypoints.api.params import CountyCode, Day
from services.attendance.entrypoints.api.schemas import (
    bulk_body_schema,
    CheckinBatchPublic,
    CountyClosePublic,
    leave_batch_body_schema,
    LeaveBatchPublic,
)
from services.runtime.auth import Actor, CurrentActor, require_scope
from services.runtime.web import CommandMeta


def mount_bulk(app: FastAPI, attendance: Attendance, buckets: TokenBuckets | SharedTokenBuckets) -> None:
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
        result = await run_in_threadpool(ingest, day, body, actor, meta)
        request.app.state.metrics.checkins_recorded.labels("attendance").inc(result.accepted)  # new rows only
        return result

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
