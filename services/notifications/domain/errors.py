"""Named domain errors: each carries the rule it enforces and, through runtime.errors, the status the API answers."""

from __future__ import annotations

from services.runtime import errors


class NotificationError(errors.DomainError):
    """A notifications rule was broken."""

    code = "notification_rule"


class AlreadySent(NotificationError, errors.Conflict):
    code = "already_sent"


class RecipientUnknown(NotificationError, errors.Conflict):
    code = "recipient_unknown"


class DirectoryRuleBroken(NotificationError, errors.InvalidInput):
    code = "directory_rule"


class PreferenceRuleBroken(NotificationError, errors.InvalidInput):
    code = "preference_rule"
