"""Registry use cases: load, act, save, return plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from contracts import Contract
from contracts.events import SchoolRegisteredV1, StudentEnrolledV1
from services.registry.domain import (
    Conflict,
    NotFound,
    School,
    Student,
    mask_id_number,
    mask_name,
    normalise_id_number,
    school_id_for,
    student_id_for,
)
from services.registry.erasure import ErasureUseCases
from services.registry.keys import DataKeys, MemoryDataKeys
from services.registry.projections import MemoryIndex
from services.registry.sealing import Sealer, SealingMapper
from services.registry.usecases import ComparisonUseCases, LifecycleUseCases, PopulationUseCases, QueryUseCases
from services.runtime.eventstore import ServiceApplication


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


class RegistryApp(ServiceApplication, LifecycleUseCases, PopulationUseCases, ComparisonUseCases, QueryUseCases,
                  ErasureUseCases):
    """The registry's event-sourced application (schema ``registry``)."""

    name = "Registry"

    def __init__(self, env: Any = None, index: Any = None) -> None:
        super().__init__(env)
        self.index = index or MemoryIndex()

    def construct_mapper(self) -> SealingMapper:  # type: ignore[override]
        """The library's mapper with children's personal fields sealed (in-memory DEKs until `protection`)."""
        base = super().construct_mapper()
        mapper = SealingMapper(transcoder=base.transcoder, compressor=base.compressor, cipher=base.cipher)
        mapper.sealer = Sealer(MemoryDataKeys())
        return mapper

    @property
    def data_keys(self) -> DataKeys:
        return self.mapper.sealer.keys  # type: ignore[attr-defined,union-attr]

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
        self.save(school)
        return school_view(school), True

    def school(self, school_id: UUID) -> School:
        school = self._get(School, school_id)
        if school is None:
            raise NotFound("学校不存在", rule="school_exists")
        return school

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
        self.save(student)
        return student_view(student), True

    def student(self, student_id: UUID) -> Student:
        student = self._get(Student, student_id)
        if student is None:
            raise NotFound("学生不存在", rule="student_exists")
        return student

    def _get(self, cls: type, aggregate_id: UUID) -> Any:
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None


def school_view(s: School) -> SchoolView:
    return SchoolView(str(s.id), s.code, s.name, s.level, s.county_code, s.township_code)


def student_view(s: Student) -> StudentView:
    return StudentView(
        str(s.id), s.school_id, s.township_code, s.grade, s.class_name, mask_name(s.name), mask_id_number(s.id_number)
    )


def to_contract(domain_event: Any, app: Any = None) -> Contract | None:
    """Maps stored registry events to their public contracts (least exposure: masked PII only); with the
    application, a division change stored before changes carried their code is named from its aggregate."""
    from services.registry.publishing import lifecycle_contract

    code_of = None if app is None else (lambda division_id: getattr(app._get(object, division_id), "code", None))
    contract = lifecycle_contract(domain_event, code_of=code_of)
    if contract is not None:
        return contract
    if isinstance(domain_event, School.Registered):
        return SchoolRegisteredV1(
            school_id=str(domain_event.originator_id),
            code=domain_event.code,
            name=domain_event.name,
            level=domain_event.level,
            county_code=domain_event.county_code,
            township_code=domain_event.township_code,
        )
    if isinstance(domain_event, Student.Enrolled):
        return StudentEnrolledV1(
            student_id=str(domain_event.originator_id),
            school_id=domain_event.school_id,
            county_code=domain_event.county_code,
            township_code=domain_event.township_code,
            grade=domain_event.grade,
            class_name=domain_event.class_name,
            name_masked=mask_name(domain_event.name),
            id_number_masked=mask_id_number(domain_event.id_number),
            head_teacher_id=domain_event.head_teacher_id,
            head_teacher_name=domain_event.head_teacher_name,
        )
    return None


def contract_mapper(app: Any) -> Any:
    """`to_contract` bound to the application (what the relay runs)."""
    return lambda domain_event: to_contract(domain_event, app)
