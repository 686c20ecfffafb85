"""Configuration routes: calendars per county (PUT, file import), cut-offs per county, rules per jurisdiction."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool

from services.attendance.adapters.calendar_files import read_calendar_file
from services.attendance.application.service import Attendance
from services.attendance.domain.values import SchoolRow
from services.attendance.entrypoints.api.params import Code, CountyCode
from services.attendance.entrypoints.api.schemas import (
    CalendarCreate,
    CalendarPublic,
    DayCloseCreate,
    DayClosePublic,
    RulesCreate,
    RulesPublic,
)
from services.runtime.auth import CurrentActor, require_scope
from services.runtime.web import CommandMeta


def mount_configuration(app: FastAPI, attendance: Attendance) -> None:
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
