"""The scheduler's case gauges in memory: open cases per county from the case index, and a county whose last case
closed reads 0 instead of keeping its old count."""

import uuid
from datetime import date

from contracts.events.registry import StudentEnrolledV1, TransferLostRetractedV1, TransferLostV1
from services.casework.application import CaseworkApp
from services.casework.entrypoints.consumers import policies
from services.casework.entrypoints.scheduler import refresh_gauges
from services.casework.tests.stories import DETECTED_AT
from services.runtime.clock import FixedClock
from services.runtime.consumer import EventSink
from services.runtime.metrics import Metrics
from services.runtime.testing import in_memory, message


def test_open_cases_per_county_and_a_closed_countys_zero():
    app = in_memory(CaseworkApp)
    track = f"casework:baoxue.registry.v1:{uuid.uuid4()}"
    sequence = [0]

    def apply(payload) -> bool:
        sequence[0] += 1
        return EventSink(app).apply(track, sequence[0], policies(app)[type(payload)],
                                    message(payload, sequence=sequence[0], time=DETECTED_AT))

    losses = []
    for township in ("520102001", "520102002", "520103001"):
        student = str(uuid.uuid4())
        assert apply(StudentEnrolledV1(student_id=student, school_id="school-9", county_code=township[:6],
                                       township_code=township, grade=5, class_name="五（1）班", name_masked="王*",
                                       id_number_masked="52**", head_teacher_id="ht-9", head_teacher_name="孙老师"))
        lost = TransferLostV1(finding_id=str(uuid.uuid4()), student_id=student, school_id="school-9",
                              township_code=township, reason_code="not_received_in_time",
                              transferred_out_on=date(2025, 8, 1), days=30)
        assert apply(lost)
        losses.append(lost)
    metrics, clock = Metrics("casework"), FixedClock(DETECTED_AT)

    def gauge(county: str) -> float | None:
        return metrics.registry.get_sample_value("baoxue_cases_open", {"service": "casework", "county": county})

    refresh_gauges(app, clock, metrics)
    assert (gauge("520102"), gauge("520103")) == (2, 1)
    last = losses[2]
    assert apply(TransferLostRetractedV1(finding_id=last.finding_id, student_id=last.student_id,
                                         township_code=last.township_code, reason_code="record_error"))
    refresh_gauges(app, clock, metrics)
    assert (gauge("520102"), gauge("520103")) == (2, 0)
    assert metrics.registry.get_sample_value("baoxue_case_deadlines_overdue", {"service": "casework"}) == 0
