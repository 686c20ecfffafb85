"""Notifications' domain: pure aggregates and rules, no I/O (contact cards, case files, notifications, the
recipients directory, message texts)."""

from eventsourcing.utils import register_topic

from services.notifications.domain.directory import (
    COUNTY_OFFICER,
    DIRECTORY_ROLES,
    JUSTICE_OFFICER,
    LEVEL_ROLES,
    PREFECTURE_OFFICER,
    TOWNSHIP_OFFICER,
    CountyDirectory,
    Recipient,
    check_entry,
    county_of,
    directory_id_for,
)
from services.notifications.domain.errors import AlreadySent, DirectoryRuleBroken, NotificationError, RecipientUnknown
from services.notifications.domain.notifications import (
    CASE_NOTIFICATIONS,
    CASE_OPENED_TEMPLATE,
    HEAD_TEACHER,
    NAMESPACE,
    OWNER,
    CaseFile,
    Contact,
    Notification,
    StudentContact,
    case_file_id_for,
    contact_id_for,
    notification_id_for,
    role_slot,
    trigger_notification_id,
)

# Events stored before the domain became a package keep resolving (topics are part of stored history).
register_topic("services.notifications.domain:StudentContact", StudentContact)
register_topic("services.notifications.domain:Notification", Notification)
register_topic("services.notifications.domain:CaseFile", CaseFile)
register_topic("services.notifications.directory:CountyDirectory", CountyDirectory)

__all__ = [
    "CASE_NOTIFICATIONS", "CASE_OPENED_TEMPLATE", "COUNTY_OFFICER", "DIRECTORY_ROLES", "HEAD_TEACHER",
    "JUSTICE_OFFICER", "LEVEL_ROLES", "NAMESPACE", "PREFECTURE_OFFICER", "OWNER", "TOWNSHIP_OFFICER", "AlreadySent", "CaseFile", "Contact", "CountyDirectory",
    "DirectoryRuleBroken", "Notification", "NotificationError", "Recipient", "RecipientUnknown", "StudentContact",
    "case_file_id_for", "check_entry", "contact_id_for", "county_of", "directory_id_for", "notification_id_for",
    "role_slot", "trigger_notification_id",
]
