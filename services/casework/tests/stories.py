"""Shared makings of casework test stories: detections as attendance publishes them."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime
from typing import Any

from contracts.events import SuspectedDropoutDetectedV1

TRACK = "casework:baoxue.attendance.v1:0"
_counties = itertools.count(1)


def unique_county() -> str:
    """A 6-digit county code no other test of this session uses (tests share one database)."""
    return str(529000 + next(_counties))


def detection(
    student_id: str | None = None,
    township_code: str = "520102001",
    detection_id: str | None = None,
    **overrides: Any,
) -> SuspectedDropoutDetectedV1:
    """Three school days absent without leave: the attendance rule's 疑似辍学 detection."""
    fields: dict[str, Any] = {
        "detection_id": detection_id or str(uuid.uuid4()),
        "student_id": student_id or str(uuid.uuid4()),
        "school_id": str(uuid.uuid4()),
        "township_code": township_code,
        "absent_days": [date(2025, 9, 8), date(2025, 9, 9), date(2025, 9, 10)],
        "rule": "consecutive_unexcused_absence",
        "rule_version": 1,
        "threshold_days": 3,
    }
    fields.update(overrides)
    return SuspectedDropoutDetectedV1(**fields)


DETECTED_AT = datetime(2025, 9, 10, 9, 30, tzinfo=UTC)
