"""Registry (学籍与适龄人口) public events.

Least exposure: a child's name and national ID number never leave the registry in clear; events
carry an opaque student id and masked forms for display.
"""

from typing import Literal

from pydantic import Field

from contracts import topics
from contracts.base import Contract
from contracts.events.common import Grade, Id, JurisdictionCode

SchoolLevel = Literal["primary", "junior", "nine_year", "special"]


class SchoolRegisteredV1(Contract):
    """A school exists in a county and township."""

    topic = topics.REGISTRY
    school_id: Id
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    level: SchoolLevel
    county_code: JurisdictionCode
    township_code: JurisdictionCode


class StudentEnrolledV1(Contract):
    """A child is registered (学籍) at a school in a grade and class."""

    topic = topics.REGISTRY
    student_id: Id
    school_id: Id
    county_code: JurisdictionCode
    township_code: JurisdictionCode
    grade: Grade
    class_name: str = Field(min_length=1, max_length=50)
    name_masked: str = Field(description="Name with all but the first and last characters masked")
    id_number_masked: str = Field(description="National ID number with birth date and sequence masked")
    head_teacher_id: str | None = Field(None, description="User id of the class head teacher (班主任)")
    head_teacher_name: str | None = None
