"""Kafka topic names: one topic per publishing service, message key = aggregate id."""

REGISTRY = "baoxue.registry.v1"
ATTENDANCE = "baoxue.attendance.v1"
CASEWORK = "baoxue.casework.v1"
NOTIFICATIONS = "baoxue.notifications.v1"
REPORTING = "baoxue.reporting.v1"

ALL = (REGISTRY, ATTENDANCE, CASEWORK, NOTIFICATIONS, REPORTING)


def dead_letter(consumer: str) -> str:
    """The dead-letter topic of one consumer (e.g. ``baoxue.dlq.casework``)."""
    return f"baoxue.dlq.{consumer}"
