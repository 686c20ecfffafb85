"""Registry domain: schools and children's registration (学籍). Pure: no I/O, no settings."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

NAMESPACE = uuid.UUID("5b1e6c1e-2f0a-4c39-9a55-6d2b6f0b1a01")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")

SCHOOL_LEVELS = ("primary", "junior", "nine_year", "special")
GRADES_BY_LEVEL = {"primary": range(1, 7), "junior": range(7, 10), "nine_year": range(1, 10), "special": range(1, 10)}


class RegistryError(Exception):
    """A registry rule was broken."""

    code = "registry_rule"

    def __init__(self, message: str, rule: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule


class InvalidInput(RegistryError):
    code = "invalid_input"


class Conflict(RegistryError):
    code = "conflict"


class NotFound(RegistryError):
    code = "not_found"


def id_number_check_digit(first17: str) -> str:
    """The GB 11643-1999 check character for the first 17 digits of a national ID number."""
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS)) % 11]


def validate_id_number(id_number: str) -> date:
    """Validates a national ID number (身份证号) and returns the birth date it encodes."""
    value = id_number.strip().upper()
    if not _ID_RE.match(value):
        raise InvalidInput("身份证号须为18位，前17位为数字，末位为数字或X", rule="id_number_format")
    if id_number_check_digit(value[:17]) != value[17]:
        raise InvalidInput("身份证号校验位错误 (GB 11643)", rule="id_number_check_digit")
    try:
        return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise InvalidInput("身份证号中的出生日期无效", rule="id_number_birth_date") from exc


def mask_name(name: str) -> str:
    """张三丰 -> 张*丰, 张三 -> 张*: enough for an official to recognise, not to identify."""
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_id_number(id_number: str) -> str:
    """520102201501011234 -> 520102********1234 (region kept, birth date and sequence hidden)."""
    return id_number[:6] + "*" * 8 + id_number[-4:]


def school_id_for(code: str) -> uuid.UUID:
    """Deterministic school id: registering the same school code twice is harmless."""
    return uuid.uuid5(NAMESPACE, f"school:{code}")


def student_id_for(id_number: str) -> uuid.UUID:
    """Deterministic student id from the national ID number (the linkage key)."""
    return uuid.uuid5(NAMESPACE, f"student:{id_number.upper()}")


class School(Aggregate):
    """A school in a county and township."""

    @event("Registered")
    def __init__(self, code: str, name: str, level: str, county_code: str, township_code: str, meta: dict[str, Any]):
        self.code = code
        self.name = name
        self.level = level
        self.county_code = county_code
        self.township_code = township_code
        self.meta = meta

    @staticmethod
    def create_id(code: str, **_: Any) -> uuid.UUID:
        return school_id_for(code)

    @staticmethod
    def check_registration(code: str, level: str, county_code: str, township_code: str) -> None:
        """Rules for a new school's codes."""
        if level not in SCHOOL_LEVELS:
            raise InvalidInput(f"学校学段无效: {level}", rule="school_level")
        if not re.fullmatch(r"\d{6}", county_code):
            raise InvalidInput("县级行政区划代码须为6位数字", rule="county_code")
        if not re.fullmatch(r"\d{9}", township_code) or not township_code.startswith(county_code):
            raise InvalidInput("乡镇代码须为9位数字且属于所填县", rule="township_in_county")

    def same_as(self, name: str, level: str, county_code: str, township_code: str) -> bool:
        return (self.name, self.level, self.county_code, self.township_code) == (name, level, county_code, township_code)

    def accepts_grade(self, grade: int) -> bool:
        return grade in GRADES_BY_LEVEL[self.level]


class Student(Aggregate):
    """A child's registration record (学籍), keyed by national ID number."""

    @event("Enrolled")
    def __init__(
        self,
        id_number: str,
        name: str,
        birth_date: date,
        school_id: str,
        county_code: str,
        township_code: str,
        grade: int,
        class_name: str,
        guardian_name: str | None,
        guardian_phone: str | None,
        head_teacher_id: str | None,
        head_teacher_name: str | None,
        meta: dict[str, Any],
    ):
        self.id_number = id_number
        self.name = name
        self.birth_date = birth_date
        self.school_id = school_id
        self.county_code = county_code
        self.township_code = township_code
        self.grade = grade
        self.class_name = class_name
        self.guardian_name = guardian_name
        self.guardian_phone = guardian_phone
        self.head_teacher_id = head_teacher_id
        self.head_teacher_name = head_teacher_name
        self.meta = meta

    @staticmethod
    def create_id(id_number: str, **_: Any) -> uuid.UUID:
        return student_id_for(id_number)

    @staticmethod
    def check_enrolment(id_number: str, birth_date: date, grade: int, today: date, school: School) -> None:
        """Rules for a new enrolment: valid ID, consistent birth date, plausible age, grade fits the school."""
        encoded = validate_id_number(id_number)
        if birth_date != encoded:
            raise InvalidInput("出生日期与身份证号不一致", rule="birth_date_matches_id_number")
        if birth_date > today:
            raise InvalidInput("出生日期不能晚于今天", rule="birth_date_not_future")
        age = today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))
        if not 3 <= age <= 20:
            raise InvalidInput(f"年龄 {age} 岁不在义务教育登记范围内", rule="age_plausible")
        if not school.accepts_grade(grade):
            raise InvalidInput(f"{school.level} 学校没有 {grade} 年级", rule="grade_fits_school")

    def same_enrolment(self, school_id: str, grade: int, class_name: str) -> bool:
        return (self.school_id, self.grade, self.class_name) == (school_id, grade, class_name)
