"""Notifications settings (BAOXUE_ prefix)."""

from typing import Literal

from pydantic import Field, model_validator

from services.runtime.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    """Which channel adapter delivers messages (file: ``{data_dir}/notifications/outbox.jsonl``)."""

    channel: Literal["file", "log", "webhook"] = Field("file", description="Channel adapter: file, log or webhook")
    webhook_url: str | None = Field(None, description="Gateway URL the webhook channel POSTs JSON to")
    webhook_token: str | None = Field(None, description="Bearer token sent to the gateway, if it wants one")
    webhook_attempts: int = Field(4, ge=1, le=20, description="Tries per message before the consumer retries later")
    webhook_timeout_s: float = Field(5.0, gt=0)

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> "NotificationsSettings":
        if self.channel == "webhook" and not self.webhook_url:
            raise ValueError("BAOXUE_WEBHOOK_URL is required when BAOXUE_CHANNEL=webhook")
        return self
