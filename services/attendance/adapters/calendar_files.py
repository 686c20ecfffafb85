"""Calendar files (校历导入): JSON as the PUT body or CSV ``kind,start,end,name``, every row checked, read into a body."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

from services.attendance.domain.errors import CalendarFileRejected, CalendarRowError
from services.runtime.csvinput import check_text, guarded, header
from services.runtime.jsoninput import parse_json
from services.attendance.domain.calendar import SchoolCalendar
from services.runtime.validation import BadInput

MAX_CALENDAR_FILE_BYTES = 1_000_000
MAX_ROWS = {"term": 20, "holiday": 400, "makeup": 100}
KIND_ALIASES = {
    "term": "term", "学期": "term",
    "holiday": "holiday", "假日": "holiday", "节假日": "holiday", "放假": "holiday",
    "makeup": "makeup", "调休": "makeup", "调休上课": "makeup", "补课": "makeup",
}
BODY_KEYS = {"terms": "term", "holidays": "holiday", "makeup_days": "makeup"}


@dataclass(frozen=True)
class _Entry:
    """One row of a calendar file: a term, or a day (or range) off or made up."""

    line: int | None
    where: str  # JSON path, or "" for a CSV row (its columns name the field)
    kind: str
    start: date
    end: date
    name: str


def read_calendar_file(content: bytes | str, filename: str = "calendar.csv") -> dict[str, Any]:
    """A calendar file (JSON as the PUT body, or CSV ``kind,start,end,name``) as a PUT body.

    Every bad row is named (CSV line, or JSON path) in one ``CalendarFileRejected``; nothing is returned half-read.
    CSV kinds: term/学期, holiday/假日/节假日, makeup/调休; ``end`` empty = one day; lines starting with ``#`` are
    comments. Bytes are read as UTF-8 (with or without BOM) or, failing that, GB18030 (Excel's Chinese CSV).
    """
    if isinstance(content, bytes):
        if len(content) > MAX_CALENDAR_FILE_BYTES:
            raise CalendarFileRejected([_err(None, "file", "file_too_large", f"校历文件超过 {MAX_CALENDAR_FILE_BYTES} 字节")])
        text = _decode(content)
    else:
        text = content
    is_json = filename.lower().endswith(".json") or text.lstrip().startswith(("{", "["))
    errors: list[CalendarRowError] = []
    entries = _json_entries(text, errors) if is_json else _csv_entries(text, errors)
    _check_together(entries, errors, is_json)
    if errors:
        raise CalendarFileRejected(sorted(errors, key=lambda e: (e.line is None, e.line or 0)))
    body: dict[str, list[Any]] = {"terms": [], "holidays": [], "makeup_days": []}
    for e in entries:
        if e.kind == "term":
            body["terms"].append({"name": e.name, "start": e.start.isoformat(), "end": e.end.isoformat()})
        else:
            key = "holidays" if e.kind == "holiday" else "makeup_days"
            body[key].append(e.start.isoformat() if e.start == e.end else {"start": e.start.isoformat(), "end": e.end.isoformat()})
    SchoolCalendar.from_body(body)  # the same rules as the PUT body (already checked row by row above)
    return body


def parse_calendar_file(text: str, filename: str = "calendar.json") -> dict[str, Any]:
    """A calendar file as a body (see ``read_calendar_file``); raises ``CalendarFileRejected`` naming every bad row."""
    return read_calendar_file(text, filename)


def _err(line: int | None, field: str, code: str, reason: str) -> CalendarRowError:
    return CalendarRowError(line, field, code, reason)


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CalendarFileRejected([_err(None, "file", "encoding", "校历文件须为 UTF-8 或 GB18030 编码")])


def _parse_day(value: Any) -> date | None:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _entry(
    line: int | None,
    where: str,
    kind: str,
    start: Any,
    end: Any,
    name: Any,
    errors: list[CalendarRowError],
    plain: bool = False,
) -> _Entry | None:
    """One row checked: dates, order, length; the term's end is required. ``plain``: a JSON date, not an object."""

    def field(column: str) -> str:
        return where if plain else (f"{where}.{column}" if where else column)

    before = len(errors)
    first = _parse_day(start)
    if first is None:
        errors.append(_err(line, field("start"), "invalid_date", f"开始日期须为 YYYY-MM-DD，收到 {start!r}"))
    blank_end = end is None or (isinstance(end, str) and not end.strip())
    last = first if blank_end and kind != "term" else _parse_day(end)
    if blank_end and kind == "term":
        errors.append(_err(line, field("end"), "term_end_missing", "学期须有结束日期 (a term needs an end)"))
    elif last is None and first is not None:
        errors.append(_err(line, field("end"), "invalid_date", f"结束日期须为 YYYY-MM-DD，收到 {end!r}"))
    if first is not None and last is not None:
        if last < first:
            errors.append(_err(line, field("end"), "end_before_start", f"结束日期 {last} 早于开始日期 {first}"))
        elif kind != "term" and (last - first).days > 366:
            errors.append(_err(line, field("end"), "range_too_long", "日期范围不能超过一年"))
        elif kind == "term" and (last - first).days > 366:
            errors.append(_err(line, field("end"), "range_too_long", "学期不能超过一年"))
    label = "学期" if name is None or (isinstance(name, str) and not name.strip()) else name
    if not isinstance(label, str) or len(label) > 64:
        errors.append(_err(line, field("name"), "invalid_name", "名称须为不超过 64 字的文本"))
    if len(errors) > before:
        return None
    assert first is not None and last is not None
    return _Entry(line, where, kind, first, last, str(label).strip())


def _csv_entries(text: str, errors: list[CalendarRowError]) -> list[_Entry]:
    reader = csv.DictReader(io.StringIO(check_text(text), newline=""))
    columns = [c.strip().lower() for c in header(reader)]
    missing = [c for c in ("kind", "start") if c not in columns]
    if missing:
        errors.append(_err(1, ",".join(missing), "missing_column", "CSV 表头须含 kind,start[,end,name] (header)"))
        return []
    reader.fieldnames = columns
    entries: list[_Entry] = []
    for row in guarded(reader):
        line = reader.line_num
        raw_kind = (row.get("kind") or "").strip()
        if raw_kind.startswith("#"):
            continue
        kind = KIND_ALIASES.get(raw_kind.lower())
        if kind is None:
            errors.append(_err(line, "kind", "invalid_kind", f"kind 须为 term、holiday 或 makeup，收到 {raw_kind!r}"))
            continue
        if None in row:  # more cells than columns
            errors.append(_err(line, "row", "extra_cells", "该行单元格多于表头列数"))
            continue
        entry = _entry(line, "", kind, row.get("start"), row.get("end"), row.get("name"), errors)
        if entry is not None:
            entries.append(entry)
    return entries


def _json_entries(text: str, errors: list[CalendarRowError]) -> list[_Entry]:
    try:
        body = parse_json(text.encode("utf-8", "surrogatepass"), where="file")
    except BadInput as exc:
        errors.append(_err(None, ".".join(str(p) for p in exc.loc), exc.kind, exc.msg))
        return []
    if not isinstance(body, dict):
        errors.append(_err(None, "$", "invalid_json", "校历须为 JSON 对象 (an object with terms, holidays, makeup_days)"))
        return []
    for key in sorted(set(body) - set(BODY_KEYS)):
        errors.append(_err(None, key, "unknown_key", "未知字段 (allowed: terms, holidays, makeup_days)"))
    entries: list[_Entry] = []
    for key, kind in BODY_KEYS.items():
        items = body.get(key) or []
        if not isinstance(items, list):
            errors.append(_err(None, key, "not_a_list", f"{key} 须为数组"))
            continue
        for n, item in enumerate(items):
            where = f"{key}[{n}]"
            if kind == "term" or isinstance(item, dict):
                if not isinstance(item, dict):
                    errors.append(_err(None, where, "not_an_object", "学期须为 {name, start, end}"))
                    continue
                unknown = set(item) - {"name", "start", "end"} - (set() if kind == "term" else {"name"})
                if unknown:
                    errors.append(_err(None, where, "unknown_key", f"未知字段 {sorted(unknown)}"))
                    continue
                entry = _entry(None, where, kind, item.get("start"), item.get("end"), item.get("name"), errors)
            else:
                entry = _entry(None, where, kind, item, None, None, errors, plain=True)
            if entry is not None:
                entries.append(entry)
    return entries


def _check_together(entries: list[_Entry], errors: list[CalendarRowError], is_json: bool) -> None:
    """Rules across rows: limits per kind, no overlapping terms, no day both off and made up."""

    def at(e: _Entry, column: str = "start") -> tuple[int | None, str]:
        return e.line, (f"{e.where}.{column}" if is_json else column)

    for kind, limit in MAX_ROWS.items():
        rows = [e for e in entries if e.kind == kind]
        if len(rows) > limit:
            errors.append(_err(*at(rows[limit], "kind"), "too_many_rows", f"{kind} 不能超过 {limit} 行"))
    terms = sorted((e for e in entries if e.kind == "term"), key=lambda e: e.start)
    for a, b in pairwise(terms):
        if a.end >= b.start:
            other = f"第 {a.line} 行" if a.line else a.where
            errors.append(_err(*at(b), "terms_overlap", f"学期与{other}的学期重叠 (terms overlap)"))
    off: dict[date, _Entry] = {}
    for e in entries:
        if e.kind == "holiday":
            for n in range((e.end - e.start).days + 1):
                off.setdefault(e.start + timedelta(days=n), e)
    for e in entries:
        if e.kind != "makeup":
            continue
        clash = next((e.start + timedelta(days=n) for n in range((e.end - e.start).days + 1) if e.start + timedelta(days=n) in off), None)
        if clash is not None:
            holiday = off[clash]
            other = f"第 {holiday.line} 行" if holiday.line else holiday.where
            errors.append(_err(*at(e), "holiday_and_makeup", f"{clash} 既是{other}的假日又是调休上课日"))
