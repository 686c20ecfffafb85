"""Kafka topic names: one topic per event store that publishes (each service's, and reporting's inspection store
beside its report store), message key = aggregate id."""

REGISTRY = "baoxue.registry.v1"
ATTENDANCE = "baoxue.attendance.v1"
CASEWORK = "baoxue.casework.v1"
NOTIFICATIONS = "baoxue.notifications.v1"
REPORTING = "baoxue.reporting.v1"
# 督导检查: reporting's second event store has a topic of its own, because a relay's position and a consumer's
# dedupe are both kept per topic by the store's notification sequence (two stores on one topic would collide).
INSPECTIONS = "baoxue.inspections.v1"

ALL = (REGISTRY, ATTENDANCE, CASEWORK, NOTIFICATIONS, REPORTING, INSPECTIONS)
PUBLISHERS = {INSPECTIONS: "reporting"}  # topics published by a service not named in the topic


def publisher(topic: str) -> str:
    """The service whose relay publishes a topic (``baoxue.<service>.v1`` unless PUBLISHERS says otherwise)."""
    return PUBLISHERS.get(topic, topic.split(".")[1])


def dead_letter(consumer: str) -> str:
    """The dead-letter topic of one consumer (e.g. ``baoxue.dlq.casework``)."""
    return f"baoxue.dlq.{consumer}"
