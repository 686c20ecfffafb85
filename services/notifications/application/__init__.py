"""Notifications use cases: ``store`` (the event store and its reads), ``dispatch`` (telling a person or a role),
``recipients`` (the directory's commands), ``ports`` (channel, delivery records)."""

from services.notifications.application.store import NotificationsApp, NotificationView

__all__ = ["NotificationView", "NotificationsApp"]
