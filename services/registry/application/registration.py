"""Schools and children's registration (学籍): register a school, enrol a child, read them back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from services.registry.application.base import UseCase
from services.registry.domain.errors import Conflict
from services.registry.domain.registration import (
    School,
    Student,
    mask_id_number,
    mask_name,
    normalise_id_number,
    school_id_for,
    student_id_for,
)


@dataclass(frozen=True)
class SchoolView:
    school_id: str
    code: str
    name: str
    level: str
    county_code: str
    township_code: str


@dataclass(frozen=True)
class StudentView:
    student_id: str
    school_id: str
    township_code: str
    grade: int
    class_name: str
    name_masked: str
    id_number_masked: str


class Registration(UseCase):
    """Registers schools and enrols children; an identical repeat is a no-op."""

    def register_school(
        self, *, code: str, name: str, level: str, county_code: str, township_code: str, meta: dict[str, Any],
        opened_on: date | None = None,
    ) -> tuple[SchoolView, bool]:
        """Registers a school (opened on a date, default: now); registered again it is a no-op (created=False)."""
        School.check_registration(code, level, county_code, township_code)
        existing = self._get(School, school_id_for(code))
        if existing is not None:
            if not existing.same_as(name, level, county_code, township_code):
                raise Conflict(f"学校代码 {code} 已登记为其他学校", rule="school_code_unique")
            return school_view(existing), False
        school = School(code=code, name=name, level=level, county_code=county_code, township_code=township_code, meta=meta,
                        opened_on=opened_on)
        self.store.save(school)
        return school_view(school), True

    def school(self, school_id: UUID) -> School:
        return self._load(School, school_id, "学校")

    def enrol_student(self, *, today: date, meta: dict[str, Any], **fields: Any) -> tuple[StudentView, bool]:
        """Enrols a child at a school; an identical repeat is a no-op, a different school is a conflict."""
        school = self.school(UUID(str(fields["school_id"])))
        id_number = normalise_id_number(fields["id_number"])
        Student.check_enrolment(id_number, fields["birth_date"], fields["grade"], today, school)
        existing = self._get(Student, student_id_for(id_number))
        if existing is not None:
            if existing.same_enrolment(str(school.id), fields["grade"], fields["class_name"]):
                return student_view(existing), False
            raise Conflict("该学生已在其他学校或班级登记学籍，请走转学流程", rule="one_active_enrolment")
        student = Student(
            id_number=id_number,
            name=fields["name"],
            birth_date=fields["birth_date"],
            school_id=str(school.id),
            county_code=school.county_code,
            township_code=school.township_code,
            grade=fields["grade"],
            class_name=fields["class_name"],
            guardian_name=fields.get("guardian_name"),
            guardian_phone=fields.get("guardian_phone"),
            head_teacher_id=fields.get("head_teacher_id"),
            head_teacher_name=fields.get("head_teacher_name"),
            meta=meta,
        )
        self.store.save(student)
        return student_view(student), True

    def student(self, student_id: UUID) -> Student:
        return self._load(Student, student_id, "学生")

def school_view(s: School) -> SchoolView:
    return SchoolView(str(s.id), s.code, s.name, s.level, s.county_code, s.township_code)


def student_view(s: Student) -> StudentView:
    return StudentView(
        str(s.id), s.school_id, s.township_code, s.grade, s.class_name, mask_name(s.name), mask_id_number(s.id_number)
    )
