"""Read-model rows kept in the same transaction as the events that cause them (no lag, no second writer).

``AttendanceApp`` derives these changes from the events it saves (``read_model_changes``); ``AttendanceRecorder`` writes them inside the
event store's insert transaction (eventsourcing's ``_insert_events`` hook), an in-memory store applies them itself.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any, Iterable, Sequence

from services.attendance.domain.configuration import CountyCalendar, CountyDayClose, RuleSet
from services.attendance.domain.leave import Leave
from services.attendance.domain.school_day import SchoolDay
from services.attendance.domain.student_attendance import StudentAttendance
from services.runtime.eventstore import BatchProcessRecorder


@dataclass(frozen=True)
class ClosedDay:
    school_id: str
    day: date
    sql = "INSERT INTO {s}.closed_days (school_id, day) VALUES (%s, %s) ON CONFLICT DO NOTHING"

    def params(self) -> tuple:
        return (self.school_id, self.day)

    def key(self) -> tuple:
        return ("closed_days", self.school_id, self.day)


@dataclass(frozen=True)
class DetectionOpened:
    student_id: str
    detection_id: str
    school_id: str
    township_code: str
    sql = (
        "INSERT INTO {s}.open_detections (student_id, detection_id, school_id, township_code) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (student_id) DO UPDATE SET detection_id = EXCLUDED.detection_id, school_id = EXCLUDED.school_id"
    )

    def params(self) -> tuple:
        return (self.student_id, self.detection_id, self.school_id, self.township_code)

    def key(self) -> tuple:
        return ("open_detections", self.student_id)


@dataclass(frozen=True)
class DetectionClosed:
    student_id: str
    sql = "DELETE FROM {s}.open_detections WHERE student_id = %s"

    def params(self) -> tuple:
        return (self.student_id,)

    def key(self) -> tuple:
        return ("open_detections", self.student_id)


@dataclass(frozen=True)
class LeaveRow:
    leave_id: str
    student_id: str
    school_id: str
    township_code: str
    first_day: date
    last_day: date
    kind: str
    status: str
    school_days: int
    sql = (
        "INSERT INTO {s}.leaves (leave_id, student_id, school_id, township_code, first_day, last_day, kind, status, school_days) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (leave_id) DO UPDATE SET status = EXCLUDED.status"
    )

    def params(self) -> tuple:
        return (
            self.leave_id,
            self.student_id,
            self.school_id,
            self.township_code,
            self.first_day,
            self.last_day,
            self.kind,
            self.status,
            self.school_days,
        )

    def key(self) -> tuple:
        return ("leaves", self.leave_id)


@dataclass(frozen=True)
class ConfigRow:
    """A county calendar (kind ``calendar``) or a jurisdiction's rules (kind ``rules``) at a version."""

    kind: str
    code: str
    body: dict[str, Any]
    version: int
    sql = (
        "INSERT INTO {s}.configuration (kind, code, body, version) VALUES (%s, %s, %s::jsonb, %s) "
        "ON CONFLICT (kind, code) DO UPDATE SET body = EXCLUDED.body, version = EXCLUDED.version"
    )

    def params(self) -> tuple:
        return (self.kind, self.code, json.dumps(self.body, ensure_ascii=False), self.version)

    def key(self) -> tuple:
        return ("configuration", self.kind, self.code)


Change = ClosedDay | DetectionOpened | DetectionClosed | LeaveRow | ConfigRow


def latest(changes: Iterable[Change]) -> list[Change]:
    """The last change per row: only the final state of each row matters, so statements can then be grouped."""
    return list({change.key(): change for change in changes}.values())


def grouped(changes: Iterable[Change]) -> list[tuple[str, list[tuple]]]:
    """The final changes grouped by statement, for one ``executemany`` each."""
    groups: dict[str, list[tuple]] = defaultdict(list)
    for change in latest(changes):
        groups[change.sql].append(change.params())
    return list(groups.items())


class AttendanceRecorder(BatchProcessRecorder):
    """The process recorder that also writes the read-model rows passed as ``read_model`` in the same transaction."""

    def _insert_events(self, curs: Any, stored_events: Sequence[Any], **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        schema = self.datastore.schema or "public"
        for statement, rows in grouped(kwargs.get("read_model") or ()):
            curs.executemany(statement.format(s=schema), rows)


def read_model_changes(event: Any, aggregates: dict[Any, Any]) -> list[Change]:
    """The read-model rows one stored event implies."""
    aggregate = aggregates.get(event.originator_id)
    if isinstance(event, SchoolDay.Closed):
        return [ClosedDay(event.school_id, event.day)]
    if isinstance(event, StudentAttendance.SuspectedDropoutDetected):
        return [DetectionOpened(event.student_id, event.detection_id, event.school_id, event.township_code)]
    if isinstance(event, (StudentAttendance.AttendanceResumed, StudentAttendance.SuspectedDropoutRetracted)):
        return [DetectionClosed(event.student_id)]
    if isinstance(aggregate, Leave):
        a = aggregate
        return [
            LeaveRow(str(a.id), a.student_id, a.school_id, a.township_code, a.first_day, a.last_day, a.kind, a.status, a.school_days)
        ]
    if isinstance(aggregate, CountyCalendar):
        return [ConfigRow("calendar", aggregate.county_code, aggregate.body, aggregate.calendar_version)]
    if isinstance(aggregate, RuleSet):
        return [ConfigRow("rules", aggregate.jurisdiction, aggregate.body, aggregate.rules_version)]
    if isinstance(aggregate, CountyDayClose):
        return [ConfigRow("day_close", aggregate.county_code, aggregate.body, aggregate.day_close_version)]
    return []
