"""Where the registry last placed a student (school, class, 班主任): the education line's source of last resort.

Kept from registry events by the consumer (written with its position), so a case can name the class head teacher
without asking the registry; a responsibility-map entry for the student still wins over it. ``Placement`` is the
value the consumer keeps in its lookup table (``student_placements``); ``StudentPlacement`` is the aggregate that
held it before (still read for a student the table has no row of yet).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.casework.domain.ids import placement_id_for


class StudentPlacement(Aggregate):
    """A student's current school, class and head teacher, as the registry's enrolment events said."""

    @event("Recorded")
    def __init__(self, student_id: str, school_id: str, township_code: str, grade: int | None,
                 class_name: str | None, head_teacher_id: str | None, head_teacher_name: str | None,
                 registry_version: int | None, meta: dict[str, Any]) -> None:
        self.student_id = student_id
        self.meta = meta
        self._set(school_id, township_code, grade, class_name, head_teacher_id, head_teacher_name, registry_version)
        self.active = True

    @staticmethod
    def create_id(student_id: str, **_: Any) -> uuid.UUID:
        return placement_id_for(student_id)

    def _set(self, school_id: str, township_code: str, grade: int | None, class_name: str | None,
             head_teacher_id: str | None, head_teacher_name: str | None, registry_version: int | None) -> None:
        self.school_id, self.township_code, self.grade, self.class_name = school_id, township_code, grade, class_name
        self.head_teacher_id, self.head_teacher_name = head_teacher_id, head_teacher_name
        self.registry_version = registry_version

    def _is_stale(self, registry_version: int | None) -> bool:
        """An older registry event than the one already applied changes nothing (order is per student)."""
        return registry_version is not None and self.registry_version is not None \
            and registry_version <= self.registry_version

    def place(self, *, school_id: str, township_code: str, grade: int | None, class_name: str | None,
              head_teacher_id: str | None, head_teacher_name: str | None, registry_version: int | None,
              meta: dict[str, Any]) -> bool:
        """A (re-)enrolment, transfer in or 小升初 admission; False when stale or nothing changed."""
        if self._is_stale(registry_version):
            return False
        now = (school_id, township_code, grade, class_name, head_teacher_id, head_teacher_name)
        before = (self.school_id, self.township_code, self.grade, self.class_name, self.head_teacher_id,
                  self.head_teacher_name)
        if self.active and now == before:
            return False
        self._placed(school_id=school_id, township_code=township_code, grade=grade, class_name=class_name,
                     head_teacher_id=head_teacher_id, head_teacher_name=head_teacher_name,
                     registry_version=registry_version, meta=meta)
        return True

    @event("Placed")
    def _placed(self, school_id: str, township_code: str, grade: int | None, class_name: str | None,
                head_teacher_id: str | None, head_teacher_name: str | None, registry_version: int | None,
                meta: dict[str, Any]) -> None:
        self._set(school_id, township_code, grade, class_name, head_teacher_id, head_teacher_name, registry_version)
        self.active = True

    def leave(self, *, reason: str, registry_version: int | None, meta: dict[str, Any]) -> bool:
        """注销学籍: the placement names no one any more; False when stale or already left."""
        if not self.active or self._is_stale(registry_version):
            return False
        self._left(reason=reason, registry_version=registry_version, meta=meta)
        return True

    @event("Left")
    def _left(self, reason: str, registry_version: int | None, meta: dict[str, Any]) -> None:
        self.active = False
        self.registry_version = registry_version

    def head_teacher_for(self, school_id: str | None) -> dict[str, Any] | None:
        """The class head teacher, if the placement is current and at the case's school (or the case has none)."""
        if not self.active or not self.head_teacher_id or (school_id and school_id != self.school_id):
            return None
        return {"user_id": self.head_teacher_id, "name": self.head_teacher_name}


@dataclass(frozen=True, slots=True)
class Placement:
    """A student's current school, class and head teacher, as the registry's enrolment events said; with the id and
    time of the registry event that last changed it (the registry's own store is the record auditors replay)."""

    student_id: str
    school_id: str
    township_code: str
    grade: int | None
    class_name: str | None
    head_teacher_id: str | None
    head_teacher_name: str | None
    registry_version: int | None
    active: bool
    event_id: str | None
    event_time: datetime | None

    def _is_stale(self, registry_version: int | None) -> bool:
        """An older registry event than the one already applied changes nothing (order is per student)."""
        return registry_version is not None and self.registry_version is not None \
            and registry_version <= self.registry_version

    def place(self, *, school_id: str, township_code: str, grade: int | None, class_name: str | None,
              head_teacher_id: str | None, head_teacher_name: str | None, registry_version: int | None,
              event_id: str | None, event_time: datetime | None) -> Placement | None:
        """A (re-)enrolment, transfer in or 小升初 admission; None when stale or nothing changed."""
        if self._is_stale(registry_version):
            return None
        if self.active and (school_id, township_code, grade, class_name, head_teacher_id, head_teacher_name) == (
                self.school_id, self.township_code, self.grade, self.class_name, self.head_teacher_id,
                self.head_teacher_name):
            return None
        return replace(self, school_id=school_id, township_code=township_code, grade=grade, class_name=class_name,
                       head_teacher_id=head_teacher_id, head_teacher_name=head_teacher_name,
                       registry_version=registry_version, active=True, event_id=event_id, event_time=event_time)

    def leave(self, *, registry_version: int | None, event_id: str | None,
              event_time: datetime | None) -> Placement | None:
        """注销学籍: the placement names no one any more; None when stale or already left."""
        if not self.active or self._is_stale(registry_version):
            return None
        return replace(self, active=False, registry_version=registry_version, event_id=event_id,
                       event_time=event_time)

    def head_teacher_for(self, school_id: str | None) -> dict[str, Any] | None:
        """The class head teacher, if the placement is current and at the case's school (or the case has none)."""
        if not self.active or not self.head_teacher_id or (school_id and school_id != self.school_id):
            return None
        return {"user_id": self.head_teacher_id, "name": self.head_teacher_name}

    @classmethod
    def of(cls, legacy: StudentPlacement) -> Placement:
        """The value a legacy aggregate holds (its own events stay the record of how it got there)."""
        return cls(student_id=legacy.student_id, school_id=legacy.school_id, township_code=legacy.township_code,
                   grade=legacy.grade, class_name=legacy.class_name, head_teacher_id=legacy.head_teacher_id,
                   head_teacher_name=legacy.head_teacher_name, registry_version=legacy.registry_version,
                   active=legacy.active, event_id=None, event_time=None)
