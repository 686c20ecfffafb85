"""`baoxue attendance ...`: import a county's school calendar (校历) from a file, show what is in force.

Built by ``build_cli(open_attendance)`` with the composition the bootstrap hands in (``bootstrap.cli``), and mounted
in ``devstack/cli.py`` (``_mount_service_commands``) as::

    from services.attendance.bootstrap import cli as attendance_app
    app.add_typer(attendance_app, name="attendance", help="Attendance: calendar import, day-close cut-offs.")

Writes through the application (the same events and read-model rows as the API), on ``BAOXUE_DATABASE_URL``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable, ContextManager

import typer

from services.attendance.adapters.calendar_files import read_calendar_file
from services.attendance.application.service import Attendance
from services.attendance.domain.calendar import SchoolCalendar
from services.attendance.domain.errors import CalendarFileRejected, InvalidInput
from services.attendance.domain.values import SchoolRow

OpenAttendance = Callable[[], ContextManager[Attendance]]


def _meta(actor: str) -> dict[str, Any]:
    from datetime import UTC, datetime

    at = datetime.now(UTC).isoformat()
    return {"actor_id": actor, "actor_role": "admin", "jurisdiction": "", "correlation_id": f"cli:{at}", "at": at}


def _county(code: str) -> str:
    if not re.fullmatch(r"\d{6}", code):
        raise typer.BadParameter(f"county code must be 6 digits, got {code!r}")
    return code


def _describe(calendar: SchoolCalendar) -> str:
    terms = ", ".join(f"{t.name} {t.start}..{t.end}" for t in calendar.terms) or "none"
    return f"terms: {terms}; holidays: {len(calendar.holidays)} days; make-up days: {len(calendar.makeup_days)}"


def build_cli(open_attendance: OpenAttendance) -> typer.Typer:
    """The ``baoxue attendance`` commands, each opening the attendance service with ``open_attendance`` (the
    bootstrap's composition on the configured database) and closing it after."""
    app = typer.Typer(help="Attendance (考勤): calendar import, day-close cut-offs.", no_args_is_help=True)

    @app.command("import-calendar")
    def import_calendar(
        county: str = typer.Argument(..., callback=_county, help="County code (6 digits)"),
        path: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help=".csv (kind,start,end,name) or .json"),
        actor: str = typer.Option("cli", help="User id recorded as having set the calendar"),
        dry_run: bool = typer.Option(False, "--dry-run", help="Check the file and print what it holds; set nothing"),
    ) -> None:
        """Sets a county's school calendar from a file; a file with any bad row sets nothing and names every row."""
        try:
            body = read_calendar_file(path.read_bytes(), path.name)
        except CalendarFileRejected as exc:
            for e in exc.errors:
                typer.echo(f"line {e.line if e.line is not None else '-'}: {e.field}: {e.code}: {e.reason}", err=True)
            typer.echo(f"rejected: {len(exc.errors)} error(s), nothing set", err=True)
            raise typer.Exit(1) from None
        calendar = SchoolCalendar.from_body(body)
        if dry_run:
            typer.echo(f"{path.name}: valid (dry run, nothing set); {_describe(calendar)}")
            return
        try:
            with open_attendance() as attendance:
                stored = attendance.set_calendar(county, body, _meta(actor))
        except InvalidInput as exc:
            typer.echo(f"rejected: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"county {county}: calendar version {stored.version}; {_describe(stored)}")


    @app.command("set-cutoff")
    def set_cutoff(
        county: str = typer.Argument(..., callback=_county, help="County code (6 digits)"),
        cutoff: str = typer.Argument(..., help="Local time, 24-hour HH:MM, after which the scheduler closes the county's day"),
        actor: str = typer.Option("cli", help="User id recorded as having set it"),
    ) -> None:
        """Sets a county's day-close cut-off (a new version, like PUT /v1/counties/{county}/day-close)."""
        try:
            with open_attendance() as attendance:
                config = attendance.set_day_close(county, {"cutoff": cutoff}, _meta(actor))
        except InvalidInput as exc:
            typer.echo(f"rejected: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"county {county}: cut-off {config.cutoff} (version {config.version})")


    @app.command("show-calendar")
    def show_calendar(county: str = typer.Argument(..., callback=_county, help="County code (6 digits)")) -> None:
        """Prints the county's calendar and cut-off in force (JSON)."""
        with open_attendance() as attendance:
            calendar = attendance.calendar_for(SchoolRow("", county, county))
            close = attendance.day_close_for(county)
        out = {"county_code": county, "calendar_version": calendar.version, **calendar.to_body(),
               "day_close": {"cutoff": close.cutoff, "version": close.version}}
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))

    return app
