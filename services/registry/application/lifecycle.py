"""学籍变动: transfer, suspension, graduation, 小升初, placement of disabled children, school closure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from services.registry.application.base import UseCase
from services.registry.domain.errors import Conflict
from services.registry.domain.registration import School, Student


@dataclass
class LifecycleView:
    student_id: str
    school_id: str
    township_code: str
    grade: int
    status: str
    placement: str | None


def lifecycle_view(s: Student) -> LifecycleView:
    return LifecycleView(str(s.id), s.school_id, s.township_code, s.grade, s.status, s.placement)


class Lifecycle(UseCase):
    """One student's (or school's) change: load, act, save, return the student's new state."""

    def _open_school(self, school_id: UUID | str) -> School:
        school = self._load(School, UUID(str(school_id)), "学校")
        if not school.is_open:
            raise Conflict("学校已撤并", rule="school_open")
        return school

    def _act(self, student_id: UUID | str, action: str, **kwargs: Any) -> LifecycleView:
        student = self._load(Student, UUID(str(student_id)), "学生")
        getattr(student, action)(**kwargs)
        self.store.save(student)
        return lifecycle_view(student)

    def transfer_out(self, student_id: UUID | str, **kwargs: Any) -> LifecycleView:
        return self._act(student_id, "transfer_out", **kwargs)

    def transfer_in(self, student_id: UUID | str, *, school_id: UUID | str, **kwargs: Any) -> LifecycleView:
        return self._act(student_id, "transfer_in", school=self._open_school(school_id), **kwargs)

    def suspend(self, student_id: UUID | str, **kwargs: Any) -> LifecycleView:
        return self._act(student_id, "suspend", **kwargs)

    def resume(self, student_id: UUID | str, **kwargs: Any) -> LifecycleView:
        return self._act(student_id, "resume", **kwargs)

    def graduate(self, student_id: UUID | str, **kwargs: Any) -> LifecycleView:
        return self._act(student_id, "graduate", **kwargs)

    def admit(self, student_id: UUID | str, *, school_id: UUID | str, **kwargs: Any) -> LifecycleView:
        return self._act(student_id, "admit", school=self._open_school(school_id), **kwargs)

    def place(self, student_id: UUID | str, *, school_id: UUID | str, **kwargs: Any) -> LifecycleView:
        return self._act(student_id, "place", school=self._open_school(school_id), **kwargs)

    def close_school(self, school_id: UUID | str, **kwargs: Any) -> None:
        school = self._load(School, UUID(str(school_id)), "学校")
        school.close(**kwargs)
        self.store.save(school)
