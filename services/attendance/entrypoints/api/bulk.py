"""Fast parsing of multi-school check-in batches (orjson into columns, no object per row), and of synced leave
batches: every bad row named.

The common batch (every row well formed) is checked column by column with comprehensions and set lookups;
only when a column check fails is each row looked at again (``_row``) to name what is wrong with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from pydantic import ValidationError

from services.attendance.domain.errors import BatchRejected, InvalidInput, LeaveBatchRejected, LeaveRowError, RowError
from services.attendance.domain.values import CheckinColumns
from services.attendance.application.leave_sync import LeaveSyncItem

FIELDS = frozenset({"school_id", "student_id", "status", "checked_at", "device"})
STATUSES = frozenset({"present", "late", "left_early"})


def parse_batch(body: bytes, tz: ZoneInfo, limit: int) -> CheckinColumns:
    """``{"items": [{school_id, student_id, status?, checked_at?, device?}, ...]}`` → columns, or a named rejection."""
    items = batch_items(body, limit, "签到")
    if not all(type(i) is dict and i.keys() <= FIELDS for i in items):
        _reject(items, tz)
    schools = _texts([i.get("school_id") for i in items])
    students = _texts([i.get("student_id") for i in items])
    devices = _texts([i.get("device") for i in items], optional=True)
    statuses = [i.get("status", "present") for i in items]
    stamps = [i.get("checked_at") for i in items]
    parsed = _timestamps(stamps, tz)
    if (
        schools is None
        or students is None
        or devices is None
        or parsed is None
        or not all(type(s) is str and s in STATUSES for s in statuses)
    ):
        _reject(items, tz)
    return CheckinColumns(schools, students, statuses, [parsed[s] if s is not None else None for s in stamps], devices)  # type: ignore[arg-type, index]


def batch_items(body: bytes, limit: int, what: str) -> list[Any]:
    """The ``items`` of a ``{"items": [...]}`` body holding 1 to ``limit`` of them (``what``: 签到, 请假…)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"请求体不是有效 JSON：{exc} (invalid JSON)", rule="batch_format") from None
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list) or set(data) != {"items"}:
        raise InvalidInput('请求体须为 {"items": [...]} (body must be an object with items)', rule="batch_format")
    if not 1 <= len(items) <= limit:
        raise InvalidInput(f"每批{what}须为 1 至 {limit} 条，收到 {len(items)} 条 (batch size)", rule="batch_size")
    return items


def parse_leave_batch(body: bytes, limit: int) -> list[LeaveSyncItem]:
    """``{"items": [LeaveSyncItem, ...]}`` → validated items, or one rejection naming every bad item and field.

    A leave batch is small next to a check-in batch (its cost is the events it records), so each item is a model.
    """
    items = batch_items(body, limit, "请假")
    parsed: list[LeaveSyncItem] = []
    errors: list[LeaveRowError] = []
    for index, item in enumerate(items):
        try:
            parsed.append(LeaveSyncItem.model_validate(item))
        except ValidationError as exc:
            external = item.get("external_id") if isinstance(item, dict) else None
            for e in exc.errors(include_url=False):
                field = ".".join(str(p) for p in e["loc"]) or "item"
                errors.append(
                    LeaveRowError(index, external if isinstance(external, str) else "", field, "invalid_field", f"{field} 无效 ({e['msg']})")
                )
    if errors:
        raise LeaveBatchRejected(errors)
    return parsed


def _texts(values: list[Any], optional: bool = False) -> list[Any] | None:
    """1–64 characters after stripping (stripped), no NUL (PostgreSQL text), None allowed when optional; None when any value is not."""
    if not all(type(v) is str or (optional and v is None) for v in values):
        return None
    stripped = [v.strip() if v is not None else None for v in values]
    if not all(v is None or (1 <= len(v) <= 64 and "\x00" not in v) for v in stripped):
        return None
    return stripped


def _timestamps(stamps: list[Any], tz: ZoneInfo) -> dict[str, datetime] | None:
    """Each distinct ``checked_at`` text parsed once (aware; naive = local time); None when one is not valid."""
    distinct = set()
    for s in stamps:
        if s is None:
            continue
        if type(s) is not str or len(s) > 40:
            return None
        distinct.add(s)
    parsed = {}
    for s in distinct:
        at = _timestamp(s, tz)
        if at is None:
            return None
        parsed[s] = at
    return parsed


def _timestamp(text: str, tz: ZoneInfo) -> datetime | None:
    try:
        at = datetime.fromisoformat(text)
        if at.tzinfo is None:
            at = at.replace(tzinfo=tz)
        at.astimezone(tz)
    except (ValueError, OverflowError):
        return None
    return at


def _reject(items: list[Any], tz: ZoneInfo) -> None:
    """Names every bad row (the slow path, taken only for a batch that is refused)."""
    errors: list[RowError] = []
    for index, item in enumerate(items):
        problem = _row(item, tz)
        if problem is not None:
            student = item.get("student_id") if isinstance(item, dict) else None
            errors.append(RowError(index, student if isinstance(student, str) else "", problem, "invalid_row"))
    if errors:
        raise BatchRejected(errors)
    raise AssertionError("a column check failed but no row did")


def _text(item: dict[str, Any], key: str, required: bool) -> str | None:
    value = item.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= 64 or "\x00" in value:
        raise ValueError(f"{key} 须为 1-64 个字符的字符串，不含 NUL")
    return value.strip()


def _row(item: Any, tz: ZoneInfo) -> str | None:
    """The reason one row is refused (in Chinese), or None when it is valid."""
    if not isinstance(item, dict):
        return "每行须为对象 (row must be an object)"
    unknown = set(item) - FIELDS
    if unknown:
        return f"未知字段 {sorted(unknown)} (unknown fields)"
    try:
        _text(item, "school_id", True)
        _text(item, "student_id", True)
        _text(item, "device", False)
        status = item.get("status", "present")
        if not isinstance(status, str) or status not in STATUSES:
            raise ValueError("status 须为 present、late 或 left_early")
        checked_at = item.get("checked_at")
        if checked_at is not None:
            if not isinstance(checked_at, str) or len(checked_at) > 40:
                raise ValueError("checked_at 须为 ISO 8601 时间")
            at = datetime.fromisoformat(checked_at)
            if at.tzinfo is None:
                at = at.replace(tzinfo=tz)
            at.astimezone(tz)
    except (ValueError, OverflowError) as exc:
        return f"{exc} (invalid field)"
    return None
