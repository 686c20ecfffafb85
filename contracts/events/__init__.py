"""All public event contracts, one module per publishing service."""

from contracts.events.registry import SchoolRegisteredV1, StudentEnrolledV1
from contracts.events.attendance import AbsenceRecordedV1, SchoolDayClosedV1, SuspectedDropoutDetectedV1
from contracts.events.casework import CaseOpenedV1
from contracts.events.documents import DocumentIssuedV1, DocumentIssuedV2, DocumentWithdrawnV1, DocumentWithdrawnV2
from contracts.events.notifications import (
    NotificationDeliveredV1,
    NotificationDeliveryFailedV1,
    NotificationDeliverySentV1,
    NotificationSentV1,
)
from contracts.events import reporting  # noqa: F401  (registers the reporting contracts)

__all__ = [
    "AbsenceRecordedV1",
    "CaseOpenedV1",
    "DocumentIssuedV1",
    "DocumentIssuedV2",
    "DocumentWithdrawnV1",
    "DocumentWithdrawnV2",
    "NotificationDeliveredV1",
    "NotificationDeliveryFailedV1",
    "NotificationDeliverySentV1",
    "NotificationSentV1",
    "SchoolDayClosedV1",
    "SchoolRegisteredV1",
    "StudentEnrolledV1",
    "SuspectedDropoutDetectedV1",
]

from contracts.events import inspections, inspections_retired  # noqa: E402,F401  (registers the inspection contracts)
