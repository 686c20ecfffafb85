"""School and student registration routes (the walking skeleton), scoped to the caller's jurisdiction."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from services.registry.application.registration import SchoolView, StudentView, school_view, student_view
from services.registry.application.registry import Registry
from services.registry.domain.errors import NotFound
from services.runtime.auth import CurrentActor, require_scope
from services.runtime.clock import Clock
from services.runtime.readaudit import Reader, Subject, reading
from services.runtime.validation import SafeId, SafeLine
from services.runtime.web import CommandMeta


class SchoolCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: SafeId = Field(min_length=1, max_length=32, description="School code (学校标识码)")
    name: SafeLine = Field(min_length=1, max_length=200)
    level: SafeId = Field(description="primary | junior | nine_year | special")
    county_code: SafeId = Field(description="6-digit county code")
    township_code: SafeId = Field(description="9-digit township code inside the county")
    opened_on: date | None = Field(None, description="开办日期 (default: when registered); as-of queries use it")


class SchoolPublic(BaseModel):
    school_id: str
    code: str
    name: str
    level: str
    county_code: str
    township_code: str


class StudentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id_number: SafeId = Field(min_length=18, max_length=18, description="National ID number (身份证号)")
    name: SafeLine = Field(min_length=1, max_length=50)
    birth_date: date
    school_id: UUID
    grade: int = Field(ge=1, le=9)
    class_name: SafeLine = Field(min_length=1, max_length=50)
    guardian_name: SafeLine | None = Field(None, max_length=50)
    guardian_phone: SafeId | None = Field(None, pattern=r"^\+?[0-9]{7,15}$")
    head_teacher_id: SafeId | None = Field(None, max_length=128)
    head_teacher_name: SafeLine | None = Field(None, max_length=50)


class StudentPublic(BaseModel):
    student_id: str
    school_id: str
    township_code: str
    grade: int
    class_name: str
    name_masked: str
    id_number_masked: str


def schools_router(registry: Registry, clock: Clock) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["registry"])

    @router.post("/schools", response_model=SchoolPublic, status_code=201, responses={200: {"model": SchoolPublic}})
    def register_school(body: SchoolCreate, actor: CurrentActor, meta: CommandMeta, response: Response) -> SchoolView:
        require_scope(actor, body.township_code, "学校所在乡镇")
        view, created = registry.registration.register_school(**body.model_dump(), meta=meta)
        response.status_code = 201 if created else 200
        return view

    @router.get("/schools/{school_id}", response_model=SchoolPublic)
    def get_school(school_id: UUID, actor: CurrentActor) -> SchoolView:
        school = registry.registration.school(school_id)
        require_scope(actor, school.township_code, "学校")
        return school_view(school)

    @router.post("/students", response_model=StudentPublic, status_code=201, responses={200: {"model": StudentPublic}})
    def enrol_student(body: StudentCreate, actor: CurrentActor, meta: CommandMeta, response: Response) -> StudentView:
        try:
            school = registry.registration.school(body.school_id)
        except NotFound as exc:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail=[{"loc": ["body", "school_id"], "msg": "学校不存在 (unknown school)", "type": "unknown_school"}],
            ) from exc
        require_scope(actor, school.township_code, "学校")
        view, created = registry.registration.enrol_student(today=clock.today(), meta=meta, **body.model_dump())
        response.status_code = 201 if created else 200
        return view

    @router.get("/students/{student_id}", response_model=StudentPublic)
    def get_student(student_id: Annotated[UUID, Path()], actor: CurrentActor,
                    reader: Annotated[Reader, reading("enrolment")]) -> StudentView:
        student = registry.registration.student(student_id)
        require_scope(actor, student.township_code, "学生")
        reader.viewed("student_record", [Subject(student.township_code, student_id=str(student_id))])
        return student_view(student)

    return router
