"""Notifications settings (BAOXUE_ prefix)."""

from typing import Literal

from pydantic import Field

from services.runtime.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    """Which channel adapter delivers messages (file: ``{data_dir}/notifications/outbox.jsonl``)."""

    channel: Literal["file", "log"] = Field("file", description="Channel adapter: file or log")
