"""Registry domain: schools and children's registration (学籍). Pure: no I/O, no settings."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.registry.domain import pseudonyms
from services.registry.domain.errors import Conflict, InvalidInput

NAMESPACE = uuid.UUID("5b1e6c1e-2f0a-4c39-9a55-6d2b6f0b1a01")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_RE = re.compile(r"^[0-9]{17}[0-9X]$")

SCHOOL_LEVELS = ("primary", "junior", "nine_year", "special")
PLACEMENTS = ("regular_class", "special_school", "home_delivery")  # 随班就读 / 特教学校 / 送教上门
CLOSURE_REASONS = ("deceased", "moved_away", "emigrated")
STUDENT_STATUSES = ("enrolled", "suspended", "transferring_out", "graduated_primary", "completed", "closed")
GRADES_BY_LEVEL = {"primary": range(1, 7), "junior": range(7, 10), "nine_year": range(1, 10), "special": range(1, 10)}


def id_number_check_digit(first17: str) -> str:
    """The GB 11643-1999 check character for the first 17 digits of a national ID number."""
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS)) % 11]


def validate_id_number(id_number: str) -> date:
    """Validates a national ID number (身份证号) in its linkage form (``normalise_id_number``: ASCII digits only, as
    Python's ``\\d`` would take full-width digits too) and returns the birth date it encodes."""
    value = id_number.strip().upper()
    if not _ID_RE.match(value):
        raise InvalidInput("身份证号须为18位，前17位为数字，末位为数字或X", rule="id_number_format")
    if id_number_check_digit(value[:17]) != value[17]:
        raise InvalidInput("身份证号校验位错误 (GB 11643)", rule="id_number_check_digit")
    try:
        return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise InvalidInput("身份证号中的出生日期无效", rule="id_number_birth_date") from exc


_FULL_WIDTH = str.maketrans("０１２３４５６７８９ｘＸ", "0123456789XX")


def normalise_id_number(raw: str) -> str:
    """The linkage form of an ID number: no spaces, ASCII digits, upper-case X (sources write it many ways)."""
    return "".join(raw.split()).translate(_FULL_WIDTH).upper()


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
    """Deterministic student id from the national ID number's linkage form, keyed (not computable without the
    pseudonym key; one child, one id, however the number is written)."""
    return pseudonyms.keyed_uuid("student", normalise_id_number(id_number))


class School(Aggregate):
    """A school in a county and township."""

    @event("Registered")
    def __init__(self, code: str, name: str, level: str, county_code: str, township_code: str, meta: dict[str, Any],
                 opened_on: date | None = None):
        self.code = code
        self.name = name
        self.level = level
        self.county_code = county_code
        self.township_code = township_code
        self.meta = meta
        self.closed_on: date | None = None
        self.opened_on = opened_on  # 开办日期 (None: as registered; older events have none)

    @staticmethod
    def create_id(code: str, **_: Any) -> uuid.UUID:
        return school_id_for(code)

    @staticmethod
    def check_registration(code: str, level: str, county_code: str, township_code: str) -> None:
        """Rules for a new school's codes."""
        if level not in SCHOOL_LEVELS:
            raise InvalidInput(f"学校学段无效: {level}", rule="school_level")
        if not re.fullmatch(r"[0-9]{6}", county_code):
            raise InvalidInput("县级行政区划代码须为6位数字", rule="county_code")
        if not re.fullmatch(r"[0-9]{9}", township_code) or not township_code.startswith(county_code):
            raise InvalidInput("乡镇代码须为9位数字且属于所填县", rule="township_in_county")

    def same_as(self, name: str, level: str, county_code: str, township_code: str) -> bool:
        return (self.name, self.level, self.county_code, self.township_code) == (name, level, county_code, township_code)

    def accepts_grade(self, grade: int) -> bool:
        return grade in GRADES_BY_LEVEL[self.level]

    @property
    def is_open(self) -> bool:
        return getattr(self, "closed_on", None) is None

    def close(self, *, on: date, reason: str, merged_into: str | None, meta: dict[str, Any]) -> None:
        """撤并: a school closes on a date (its children must be transferred)."""
        if not self.is_open:
            raise Conflict("学校已撤并", rule="school_open")
        self._closed(on=on, reason=reason, merged_into=merged_into, township_code=self.township_code, meta=meta)

    @event("Closed")
    def _closed(self, on: date, reason: str, merged_into: str | None, township_code: str,
                meta: dict[str, Any]) -> None:
        self.closed_on, self.meta = on, meta

    def reopen(self, *, on: date, meta: dict[str, Any]) -> None:
        if self.is_open:
            raise Conflict("学校在办", rule="school_closed")
        self._reopened(on=on, meta=meta)

    @event("Reopened")
    def _reopened(self, on: date, meta: dict[str, Any]) -> None:
        self.closed_on, self.meta = None, meta

    def move_township(self, *, township_code: str, effective: date, reason: str, division_code: str | None,
                      meta: dict[str, Any]) -> bool:
        """The school belongs to another township from a date (a township merge, 乡镇撤并); False if already there.

        The aggregate keeps the latest township; what it was on a given day is answered from the events'
        effective dates (the read model's timeline)."""
        if not re.fullmatch(r"[0-9]{9}", township_code):
            raise InvalidInput("乡镇代码须为9位数字", rule="township_code")
        if township_code == self.township_code:
            return False
        self._township_changed(from_township_code=self.township_code, township_code=township_code,
                               county_code=township_code[:6], effective=effective, reason=reason,
                               division_code=division_code, meta=meta)
        return True

    @event("TownshipChanged")
    def _township_changed(self, from_township_code: str, township_code: str, county_code: str, effective: date,
                          reason: str, division_code: str | None, meta: dict[str, Any]) -> None:
        self.township_code, self.county_code, self.meta = township_code, county_code, meta


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
        self.status = "enrolled"
        self.placement: str | None = None
        self.since: date | None = None
        self.transfer_out_on: date | None = None
        self.graduated_on: date | None = None

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

    # -- lifecycle (学籍变动): each public method checks its rule, then records the event -------
    @property
    def in_school(self) -> bool:
        """Counts as in school: enrolled (any placement) or suspended with approval."""
        return self.status in ("enrolled", "suspended")

    def _require(self, *statuses: str, action: str) -> None:
        if self.status not in statuses:
            raise Conflict(f"学籍状态为 {self.status}，不能{action}", rule=f"{action}_from_status")

    def transfer_out(self, *, on: date, reason: str, to_school_id: str | None, to_region_code: str | None,
                     meta: dict[str, Any]) -> None:
        """转出: the record leaves this school; the receiving school must transfer the child in."""
        self._require("enrolled", "suspended", action="转出")
        if to_region_code is not None and not re.fullmatch(r"[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3})?)?)?", to_region_code):
            raise InvalidInput("转入地区代码无效", rule="region_code")
        self._transferred_out(on=on, reason=reason, to_school_id=to_school_id, to_region_code=to_region_code,
                              school_id=self.school_id, township_code=self.township_code, meta=meta)

    @event("TransferredOut")
    def _transferred_out(self, on: date, reason: str, to_school_id: str | None, to_region_code: str | None,
                         school_id: str, township_code: str, meta: dict[str, Any]) -> None:
        self.status, self.since, self.transfer_out_on, self.meta = "transferring_out", on, on, meta
        self.transfer_to = {"school_id": to_school_id, "region_code": to_region_code}

    def transfer_in(self, *, on: date, school: School, grade: int, class_name: str, meta: dict[str, Any]) -> None:
        """转入: a school receives a child who transferred out (人籍一致，籍随人走)."""
        self._require("transferring_out", action="转入")
        if not school.is_open:
            raise Conflict("学校已撤并，不能转入", rule="school_open")
        if not school.accepts_grade(grade):
            raise InvalidInput(f"{school.level} 学校没有 {grade} 年级", rule="grade_fits_school")
        if self.transfer_out_on is not None and on < self.transfer_out_on:
            raise InvalidInput("转入日期早于转出日期", rule="transfer_in_after_out")
        self._require_destination(school)
        self._transferred_in(on=on, school_id=str(school.id), county_code=school.county_code,
                             township_code=school.township_code, grade=grade, class_name=class_name, meta=meta)

    def _require_destination(self, school: School) -> None:
        """A transfer out that named the receiving school is received there only; one that named a region, there or
        back in the county the child left (the record's own word, not the receiving school's)."""
        destination = self.__dict__.get("transfer_to") or {}
        if destination.get("school_id") and destination["school_id"] != str(school.id):
            raise Conflict("转入学校与转出时指定的接收学校不符 (not the school named at transfer out)",
                           rule="transfer_in_destination")
        region = destination.get("region_code")
        back_home = school.township_code[:6] == self.township_code[:6]
        if region and not (school.township_code.startswith(region) or back_home):
            raise Conflict("转入学校不在转出时指定的地区 (not in the region named at transfer out)",
                           rule="transfer_in_destination")

    @event("TransferredIn")
    def _transferred_in(self, on: date, school_id: str, county_code: str, township_code: str, grade: int,
                        class_name: str, meta: dict[str, Any]) -> None:
        self.school_id, self.county_code, self.township_code = school_id, county_code, township_code
        self.grade, self.class_name, self.status, self.since, self.meta = grade, class_name, "enrolled", on, meta
        self.transfer_out_on, self.transfer_to = None, None

    def suspend(self, *, on: date, reason: str, until: date | None, approval_ref: str, meta: dict[str, Any]) -> None:
        """休学: only with an approval reference; the child stays counted as in school."""
        self._require("enrolled", action="休学")
        if not approval_ref.strip():
            raise InvalidInput("休学须有审批文号", rule="suspension_approved")
        if until is not None and until <= on:
            raise InvalidInput("休学截止日期须晚于开始日期", rule="suspension_period")
        self._suspended(on=on, reason=reason, until=until, approval_ref=approval_ref, school_id=self.school_id,
                        township_code=self.township_code, meta=meta)

    @event("Suspended")
    def _suspended(self, on: date, reason: str, until: date | None, approval_ref: str, school_id: str,
                   township_code: str, meta: dict[str, Any]) -> None:
        self.status, self.since, self.meta = "suspended", on, meta

    def resume(self, *, on: date, grade: int | None, class_name: str | None, meta: dict[str, Any]) -> None:
        """复学 after a suspension."""
        self._require("suspended", action="复学")
        self._resumed(on=on, grade=grade or self.grade, class_name=class_name or self.class_name,
                      school_id=self.school_id, township_code=self.township_code, meta=meta)

    @event("Resumed")
    def _resumed(self, on: date, grade: int, class_name: str, school_id: str, township_code: str,
                 meta: dict[str, Any]) -> None:
        self.status, self.since, self.grade, self.class_name, self.meta = "enrolled", on, grade, class_name, meta

    def graduate(self, *, on: date, level: str, meta: dict[str, Any]) -> None:
        """毕业: a primary graduate must then be registered at a junior school (小升初)."""
        self._require("enrolled", action="毕业")
        if level == "primary" and self.grade not in (5, 6):
            raise InvalidInput("小学毕业须在五或六年级", rule="graduation_grade")
        if level == "junior" and self.grade != 9:
            raise InvalidInput("初中毕业须在九年级", rule="graduation_grade")
        if level not in ("primary", "junior"):
            raise InvalidInput(f"毕业学段无效: {level}", rule="graduation_level")
        self._graduated(on=on, level=level, school_id=self.school_id, township_code=self.township_code, meta=meta)

    @event("Graduated")
    def _graduated(self, on: date, level: str, school_id: str, township_code: str, meta: dict[str, Any]) -> None:
        self.status = "graduated_primary" if level == "primary" else "completed"
        self.since, self.graduated_on, self.meta = on, on, meta

    def admit(self, *, on: date, school: School, class_name: str, meta: dict[str, Any]) -> None:
        """升学 (小升初): a primary graduate is registered at a junior (or nine-year) school in grade 7."""
        self._require("graduated_primary", action="升学")
        if school.level not in ("junior", "nine_year", "special") or not school.is_open:
            raise InvalidInput("须登记到开办中的初中或九年一贯制学校", rule="admitted_to_junior")
        self._admitted(on=on, school_id=str(school.id), county_code=school.county_code,
                       township_code=school.township_code, grade=7, class_name=class_name, meta=meta)

    @event("Admitted")
    def _admitted(self, on: date, school_id: str, county_code: str, township_code: str, grade: int,
                  class_name: str, meta: dict[str, Any]) -> None:
        self.school_id, self.county_code, self.township_code = school_id, county_code, township_code
        self.grade, self.class_name, self.status, self.since, self.meta = grade, class_name, "enrolled", on, meta

    def place(self, *, on: date, placement: str, school: School, disability_degree: str | None,
              meta: dict[str, Any]) -> None:
        """残疾儿童安置: 随班就读, 特教学校 or 送教上门 — each counts as in school and keeps a registration."""
        if placement not in PLACEMENTS:
            raise InvalidInput(f"安置方式无效: {placement}", rule="placement")
        if placement == "special_school" and school.level != "special":
            raise InvalidInput("特教学校安置须登记到特殊教育学校", rule="special_school_placement")
        self._require("enrolled", "suspended", "transferring_out", action="安置")
        self._placed(on=on, placement=placement, school_id=str(school.id), county_code=school.county_code,
                     township_code=school.township_code, disability_degree=disability_degree, meta=meta)

    @event("Placed")
    def _placed(self, on: date, placement: str, school_id: str, county_code: str, township_code: str,
                disability_degree: str | None, meta: dict[str, Any]) -> None:
        self.school_id, self.county_code, self.township_code = school_id, county_code, township_code
        self.placement, self.status, self.since, self.meta = placement, "enrolled", on, meta
        self.transfer_out_on, self.transfer_to = None, None

    def close(self, *, on: date, reason: str, source: str, reference: str | None, meta: dict[str, Any]) -> bool:
        """注销学籍 on a death or move away reported by public security; False when already closed."""
        if reason not in CLOSURE_REASONS:
            raise InvalidInput(f"注销原因无效: {reason}", rule="closure_reason")
        if self.status == "closed":
            return False
        self._closed(on=on, reason=reason, source=source, reference=reference, school_id=self.school_id,
                     township_code=self.township_code, meta=meta)
        return True

    @event("Closed")
    def _closed(self, on: date, reason: str, source: str, reference: str | None, school_id: str, township_code: str,
                meta: dict[str, Any]) -> None:
        self.status, self.since, self.meta = "closed", on, meta
