"""Fast parsing of multi-school check-in batches (orjson, no per-row model): every bad row named, nothing written."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from services.attendance.application import SchoolCheckin
from services.attendance.errors import BatchRejected, InvalidInput, RowError
from services.attendance.ports import CheckinRow

FIELDS = frozenset({"school_id", "student_id", "status", "checked_at", "device"})
STATUSES = frozenset({"present", "late", "left_early"})


def parse_batch(body: bytes, tz: ZoneInfo, limit: int) -> list[SchoolCheckin]:
    """``{"items": [{school_id, student_id, status?, checked_at?, device?}, ...]}`` → rows, or a named rejection."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"请求体不是有效 JSON：{exc} (invalid JSON)", rule="batch_format") from None
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list) or set(data) != {"items"}:
        raise InvalidInput('请求体须为 {"items": [...]} (body must be an object with items)', rule="batch_format")
    if not 1 <= len(items) <= limit:
        raise InvalidInput(f"每批签到须为 1 至 {limit} 条，收到 {len(items)} 条 (batch size)", rule="batch_size")
    rows: list[SchoolCheckin] = []
    errors: list[RowError] = []
    for index, item in enumerate(items):
        parsed = _row(item, tz)
        if isinstance(parsed, str):
            student = item.get("student_id") if isinstance(item, dict) else None
            errors.append(RowError(index, student if isinstance(student, str) else "", parsed, "invalid_row"))
        else:
            rows.append(parsed)
    if errors:
        raise BatchRejected(errors)
    return rows


def _text(item: dict[str, Any], key: str, required: bool) -> str | None:
    value = item.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= 64:
        raise ValueError(f"{key} 须为 1-64 个字符的字符串")
    return value.strip()


def _row(item: Any, tz: ZoneInfo) -> SchoolCheckin | str:
    """One row, or the reason it is refused (in Chinese)."""
    if not isinstance(item, dict):
        return "每行须为对象 (row must be an object)"
    unknown = set(item) - FIELDS
    if unknown:
        return f"未知字段 {sorted(unknown)} (unknown fields)"
    try:
        school_id = _text(item, "school_id", True)
        student_id = _text(item, "student_id", True)
        device = _text(item, "device", False)
        status = item.get("status", "present")
        if status not in STATUSES:
            raise ValueError("status 须为 present、late 或 left_early")
        checked_at = item.get("checked_at")
        at = None
        if checked_at is not None:
            if not isinstance(checked_at, str) or len(checked_at) > 40:
                raise ValueError("checked_at 须为 ISO 8601 时间")
            at = datetime.fromisoformat(checked_at)
            if at.tzinfo is None:
                at = at.replace(tzinfo=tz)
            at.astimezone(tz)
    except (ValueError, OverflowError) as exc:
        return f"{exc} (invalid field)"
    return SchoolCheckin(school_id, CheckinRow(student_id, status, at, device))  # type: ignore[arg-type]
