"""Reading and validating import files (CSV / XLSX): every bad row with its line and reason. No I/O but parsing.

A file is validated whole before anything is written: missing columns, bad ID numbers (format, GB 11643
check digit), impossible birth dates, unknown schools, grades a school does not have, and rows repeating
an ID number already in the file. The caller then imports all or nothing, or asks for the valid rows only.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable, Iterator

from services.registry.domain.errors import InvalidInput
from services.registry.domain.registration import GRADES_BY_LEVEL, normalise_id_number, validate_id_number
from services.runtime.csvinput import check_text, guarded
from services.registry.domain.population import DISABILITY_DEGREES, FLAGS

ALIASES = {
    "身份证号": "id_number", "身份证件号": "id_number", "姓名": "name", "出生日期": "birth_date", "性别": "gender",
    "学校代码": "school_code", "学校标识码": "school_code", "年级": "grade", "班级": "class_name",
    "乡镇代码": "township_code", "村代码": "village_code", "监护人": "guardian_name", "监护人电话": "guardian_phone",
    "特殊群体": "flags", "来源编号": "source_record_id", "班主任": "head_teacher_name", "班主任编号": "head_teacher_id",
    "开办日期": "opened_on",
}
REQUIRED = {
    "students": ("id_number", "name", "birth_date", "school_code", "grade", "class_name"),
    "population": ("id_number", "name", "birth_date"),
}
MAX_ERRORS = 10_000


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None
    code: str
    message: str


@dataclass
class Parsed:
    """A validated file: the good rows (with their line numbers) and every error."""

    kind: str
    sha256: str
    total: int = 0
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def error(self, line: int, column: str | None, code: str, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(line, column, code, message))


def read_table(content: bytes, filename: str) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """The columns and rows (with line numbers) of a CSV (UTF-8 with or without BOM, or GB18030) or XLSX file."""
    if filename.lower().endswith((".xlsx", ".xlsm")):
        return _read_xlsx(content)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise InvalidInput("文件编码无法识别（请使用UTF-8或GB18030的CSV，或XLSX）", rule="file_encoding") from exc
    reader = guarded(csv.reader(io.StringIO(check_text(text), newline="")))
    header = next(reader, None)
    if header is None:
        raise InvalidInput("文件为空", rule="file_empty")
    names = [ALIASES.get(h.strip(), h.strip()) for h in header]

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        for line, values in enumerate(reader, start=2):
            if any(v.strip() for v in values):
                yield line, {n: (values[i].strip() if i < len(values) else "") for i, n in enumerate(names)}

    return names, rows()


def _read_xlsx(content: bytes) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook is the same answer
        raise InvalidInput("无法读取XLSX文件", rule="file_unreadable") from exc
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        raise InvalidInput("文件为空", rule="file_empty")
    names = [ALIASES.get(str(h or "").strip(), str(h or "").strip()) for h in header]

    def data() -> Iterator[tuple[int, dict[str, str]]]:
        for line, values in enumerate(rows, start=2):
            if any(v not in (None, "") for v in values):
                yield line, {n: _cell(values[i] if i < len(values) else None) for i, n in enumerate(names)}

    return names, data()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_date(value: str) -> date:
    if len(value) == 10 and value[4] == "-":
        return date.fromisoformat(value)
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError(value)


def parse_flags(value: str) -> dict[str, dict[str, Any]]:
    """'disabled:2;left_behind' (or Chinese names) → {'disabled': {'degree': '2'}, 'left_behind': {}}."""
    by_word = {v: k for k, v in FLAGS.items()}
    out: dict[str, dict[str, Any]] = {}
    for part in value.replace("；", ";").replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        name, _, degree = part.partition(":")
        flag = by_word.get(name.strip(), name.strip())
        if flag not in FLAGS:
            raise ValueError(f"未知特殊群体: {name}")
        if degree and (flag != "disabled" or degree.strip() not in DISABILITY_DEGREES):
            raise ValueError(f"残疾等级无效: {part}")
        out[flag] = {"degree": degree.strip()} if degree else {}
    return out


def validate(
    kind: str,
    content: bytes,
    filename: str,
    *,
    today: date,
    school_level: Callable[[str], str | None] = lambda _code: None,
    known_township: Callable[[str], bool] = lambda _code: True,
    school_township: Callable[[str], str | None] = lambda _code: None,
    scope: str = "",
) -> Parsed:
    """Validates a whole file. `school_level(code)` is the level of an open school, None when unknown;
    `scope` is the caller's jurisdiction prefix: a row outside it is an error of that row."""
    if kind not in REQUIRED:
        raise InvalidInput(f"导入类型无效: {kind}", rule="import_kind")
    parsed = Parsed(kind, hashlib.sha256(content).hexdigest())
    first_line: dict[str, int] = {}
    duplicated: set[str] = set()
    columns, rows = read_table(content, filename)
    missing = [c for c in REQUIRED[kind] if c not in columns]
    if missing:
        raise InvalidInput(f"缺少必填列: {', '.join(missing)}", rule="columns_missing")
    for line, raw in rows:
        parsed.total += 1
        row, problems = _check_row(kind, raw, today, school_level, known_township)
        problems += _out_of_scope(kind, raw, scope, school_township)
        for column, code, message in problems:
            parsed.error(line, column, code, message)
        if problems:
            continue
        earlier = first_line.get(row["id_number"])
        if earlier is not None:
            parsed.error(line, "id_number", "duplicate_in_file", f"身份证号与第 {earlier} 行重复")
            duplicated.add(row["id_number"])
            continue
        first_line[row["id_number"]] = line
        parsed.rows.append((line, row))
    if parsed.total == 0:
        raise InvalidInput("文件没有数据行", rule="file_empty")
    if duplicated:  # the first occurrence of a repeated ID number is not trusted either
        for line, row in parsed.rows:
            if row["id_number"] in duplicated:
                parsed.error(line, "id_number", "duplicate_in_file", "身份证号在文件中重复出现")
        parsed.rows = [(ln, r) for ln, r in parsed.rows if r["id_number"] not in duplicated]
        parsed.errors.sort(key=lambda e: e.line)
    return parsed


def _out_of_scope(kind: str, raw: dict[str, str], scope: str,
                  school_township: Callable[[str], str | None]) -> list[tuple[str, str, str]]:
    """A row that would write outside the caller's jurisdiction (学校或户籍地不在辖区内)."""
    if not scope:
        return []
    if kind == "students":
        township = school_township(raw.get("school_code", ""))
        if township is not None and not township.startswith(scope):
            return [("school_code", "out_of_jurisdiction", f"学校不在您的辖区 {scope} 内")]
        return []
    township = raw.get("township_code", "")
    region = township or normalise_id_number(raw.get("id_number", ""))[: min(len(scope), 6)]
    if region and not (region.startswith(scope) or (not township and scope.startswith(region))):
        return [("township_code" if township else "id_number", "out_of_jurisdiction",
                 f"儿童户籍地不在您的辖区 {scope} 内")]
    return []


def _check_row(kind: str, raw: dict[str, str], today: date, school_level: Callable[[str], str | None],
               known_township: Callable[[str], bool]) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    problems: list[tuple[str, str, str]] = []
    row: dict[str, Any] = {k: v for k, v in raw.items() if v}
    id_number = normalise_id_number(raw.get("id_number", ""))
    encoded: date | None = None
    try:
        encoded = validate_id_number(id_number)
    except InvalidInput as exc:
        problems.append(("id_number", exc.rule or "id_number", str(exc)))
    row["id_number"] = id_number
    if not raw.get("name"):
        problems.append(("name", "name_missing", "姓名不能为空"))
    elif len(raw["name"]) > 50:
        problems.append(("name", "name_too_long", "姓名过长"))
    try:
        birth = parse_date(raw.get("birth_date", ""))
        row["birth_date"] = birth
        if birth > today:
            problems.append(("birth_date", "birth_date_future", "出生日期晚于今天"))
        elif not 0 <= today.year - birth.year <= 25:
            problems.append(("birth_date", "birth_date_implausible", "出生日期不在适龄范围内"))
        elif encoded is not None and birth != encoded and kind == "students":
            problems.append(("birth_date", "birth_date_matches_id_number", "出生日期与身份证号不一致"))
    except ValueError:
        problems.append(("birth_date", "birth_date_invalid", f"出生日期无效: {raw.get('birth_date', '')!r}"))
    if kind == "students":
        level = school_level(raw.get("school_code", ""))
        if level is None:
            problems.append(("school_code", "unknown_school", f"学校代码不存在或已撤并: {raw.get('school_code', '')}"))
        try:
            grade = int(raw.get("grade", ""))
            row["grade"] = grade
            if level is not None and grade not in GRADES_BY_LEVEL[level]:
                problems.append(("grade", "grade_fits_school", f"{level} 学校没有 {grade} 年级"))
        except ValueError:
            problems.append(("grade", "grade_invalid", f"年级无效: {raw.get('grade', '')!r}"))
        if not raw.get("class_name"):
            problems.append(("class_name", "class_missing", "班级不能为空"))
    else:
        township = raw.get("township_code", "")
        if township and (len(township) != 9 or not township.isdigit() or not known_township(township)):
            problems.append(("township_code", "unknown_township", f"乡镇代码不存在: {township}"))
        try:
            row["flags"] = parse_flags(raw.get("flags", ""))
        except ValueError as exc:
            problems.append(("flags", "flag_invalid", str(exc)))
        gender = raw.get("gender", "")
        if gender and gender not in ("男", "女", "M", "F"):
            problems.append(("gender", "gender_invalid", f"性别无效: {gender}"))
    return row, problems
