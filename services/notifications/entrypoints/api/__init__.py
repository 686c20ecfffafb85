"""Notifications HTTP API: ``notifications`` (the app, delivery records), ``recipients`` (the directory's routes)."""

from services.notifications.entrypoints.api.notifications import create_app

__all__ = ["create_app"]
