"""The attendance event store (eventsourcing Application, schema ``attendance``): saves events with their read-model
rows, loads many aggregates in one query, snapshots long student records; old event topics still resolve."""

from __future__ import annotations

from typing import Any, Iterable, Protocol
from uuid import UUID

from eventsourcing.utils import register_topic

from services.attendance.adapters.readmodel import AttendanceRecorder, Change, read_model_changes
from services.attendance.domain.configuration import CountyCalendar, CountyDayClose, RuleSet
from services.attendance.domain.leave import Leave
from services.attendance.domain.school_day import SchoolDay
from services.attendance.domain.student_attendance import StudentAttendance
from services.runtime.eventstore import ServiceApplication

# Events stored before the service had rooms name their classes by the old modules: they must still be read.
for _topic, _cls in {
    "services.attendance.domain:SchoolDay": SchoolDay,
    "services.attendance.domain:StudentAttendance": StudentAttendance,
    "services.attendance.leave:Leave": Leave,
    "services.attendance.configuration:CountyCalendar": CountyCalendar,
    "services.attendance.configuration:RuleSet": RuleSet,
    "services.attendance.configuration:CountyDayClose": CountyDayClose,
}.items():
    register_topic(_topic, _cls)


class ReadModel(Protocol):
    """Where rows derived from saved events go when the event store is not PostgreSQL (in-memory tests)."""

    def apply(self, changes: list[Any]) -> None: ...


class AttendanceApp(ServiceApplication):
    """Attendance's event-sourced application: the event store the use cases load from and save to."""

    name = "Attendance"
    env = {"PROCESS_RECORDER_TOPIC": "services.attendance.adapters.readmodel:AttendanceRecorder"}
    is_snapshotting_enabled = True  # the snapshot table (attendance_snapshots); what is snapshotted: ``snapshot_every``

    def __init__(self, env: dict[str, str] | None = None, *, read_model: ReadModel | None = None, snapshot_every: int = 0) -> None:
        super().__init__(env=env)
        self.read_model = read_model
        # a student absent day after day gains an event a day; SchoolDay, Leave and the configuration stay short
        self.snapshot_intervals = {StudentAttendance: snapshot_every} if snapshot_every else {}

    def load_many(self, cls: type, aggregate_ids: Iterable[UUID]) -> dict[UUID, Any]:
        """Aggregates by id in one query on PostgreSQL (closing thousands of absences must not read one by one), each
        from its latest snapshot and the events after it (see ``BatchRepository.get_many``)."""
        found = self.repository.get_many(aggregate_ids)  # type: ignore[attr-defined]
        return {i: a for i, a in found.items() if isinstance(a, cls)}

    def _record(self, processing_event: Any) -> Any:
        """Saves events with the read-model rows they imply, in one transaction on PostgreSQL."""
        changes: list[Change] = [
            c for e in processing_event.events for c in read_model_changes(e, processing_event.aggregates)
        ]
        on_postgres = isinstance(self.recorder, AttendanceRecorder)
        if changes and on_postgres:
            processing_event.saved_kwargs["read_model"] = changes
        recordings = super()._record(processing_event)
        if changes and not on_postgres and self.read_model is not None:
            self.read_model.apply(changes)
        return recordings
