"""Makings of casework stories: who acts when, evidence references, and cases opened as attendance would."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from contracts.events import SuspectedDropoutDetectedV1
from contracts.events.attendance import AttendanceResumedV1
from services.casework.application import CaseworkApp
from services.casework.entrypoints.consumers import policies
from services.casework.tests.stories import detection
from services.runtime.consumer import EventSink
from services.runtime.testing import message

CHINA = timezone(timedelta(hours=8))
MONDAY = datetime(2025, 9, 15, 9, 0, tzinfo=CHINA)


def acting(role: str, at: datetime, user_id: str | None = None, jurisdiction: str = "520102") -> dict[str, Any]:
    """The meta a person's command records: who, in which role and jurisdiction, when."""
    return {"actor_id": user_id or f"{role}-1", "actor_role": role, "jurisdiction": jurisdiction,
            "correlation_id": str(uuid.uuid4()), "causation_id": None, "at": at.isoformat()}


def proof(kind: str = "photo", name: str = "家访照片") -> dict[str, Any]:
    """An evidence reference: the file's hash and where it is kept."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    return {"kind": kind, "sha256": digest, "location": f"s3://baoxue-evidence/{digest[:12]}.bin", "description": name}


def deliver(app: CaseworkApp, payload: Any, at: datetime = MONDAY, **envelope: Any) -> bool:
    """The consumer loop's effect for one message of attendance or the registry."""
    msg = message(payload, time=at, **envelope)
    track = f"casework:{payload.topic}:{uuid.uuid4().hex[:6]}"
    return EventSink(app).apply(track, msg.envelope.sequence, policies(app)[type(payload)], msg)


def opened_case(app: CaseworkApp, student_id: str | None = None, township_code: str = "520102001",
                school_id: str = "school-1", at: datetime = MONDAY) -> Any:
    """A case opened from a 疑似辍学 detection; returns the case."""
    detected: SuspectedDropoutDetectedV1 = detection(student_id or str(uuid.uuid4()), township_code,
                                                      school_id=school_id)
    deliver(app, detected, at)
    return app.queries.case(app.queries.case_id_for_detection(detected.detection_id))


def resumed(case: Any, day: Any) -> AttendanceResumedV1:
    """Attendance saw the child of a case at school again."""
    return AttendanceResumedV1(student_id=case.student_id, school_id=case.school_id or "school-1",
                               township_code=case.township_code, day=day, detection_id=case.trigger_id)
