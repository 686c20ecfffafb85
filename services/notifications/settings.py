"""Notifications settings (BAOXUE_ prefix): the dispatcher's channel, and the outbox's providers and rules."""

from typing import Literal

from pydantic import Field, model_validator

from services.notifications.domain.delivery import QuietHours
from services.runtime.settings import ServiceSettings

URGENT = ["deadline_passed_owner", "deadline_passed_escalation", "case_escalated_owner", "case_escalated_township",
          "case_escalated_justice"]
PLACEHOLDERS = {"", "changeme", "change-me", "placeholder", "secret", "test", "dev", "development", "example", "xxx"}


def _placeholder(value: str | None) -> bool:
    return value is None or value.strip().lower() in PLACEHOLDERS or value.lower().startswith(("dev-", "example"))


class NotificationsSettings(ServiceSettings):
    """Which channel adapter the dispatcher uses (file: ``{data_dir}/notifications/outbox.jsonl``; outbox: the
    PostgreSQL delivery outbox, sent by the delivery worker through the provider channels below)."""

    channel: Literal["file", "log", "webhook", "outbox"] = Field(
        "file", description="Channel adapter: file, log, webhook or outbox (SMS / WeCom / DingTalk / e-mail)")
    webhook_url: str | None = Field(None, description="Gateway URL the webhook channel POSTs JSON to")
    webhook_token: str | None = Field(None, description="Bearer token sent to the gateway, if it wants one")
    webhook_attempts: int = Field(4, ge=1, le=20, description="Tries per message before the consumer retries later")
    webhook_timeout_s: float = Field(5.0, gt=0)

    # The outbox: defaults for recipients without preferences, quiet hours, urgent kinds, retries.
    delivery_channels: list[Literal["sms", "wecom", "dingtalk", "email", "file"]] = Field(
        ["sms"], description="Channels for a recipient without preferences (address from the directory)")
    quiet_hours: str | None = Field("22:00-07:00", description="Platform quiet hours HH:MM-HH:MM, Asia/Shanghai")
    county_quiet_hours: dict[str, str] = Field(default_factory=dict, description="County code -> HH:MM-HH:MM")
    urgent_templates: list[str] = Field(URGENT, description="Message kinds that go even in quiet hours")
    delivery_max_attempts: int = Field(6, ge=1, le=50, description="Attempts before a delivery is given up")
    delivery_tries_per_claim: int = Field(2, ge=1, le=5, description="Immediate tries before backing off")
    delivery_backoff_s: float = Field(30.0, gt=0, description="First backoff; doubles per attempt, plus jitter")
    delivery_backoff_max_s: float = Field(3600.0, gt=0)
    delivery_jitter_s: float = Field(5.0, ge=0)
    delivery_lease_s: float = Field(60.0, gt=0, description="How long a worker holds a claimed delivery")
    delivery_poll_s: float = Field(2.0, gt=0, description="How often the delivery worker looks for due rows")

    # SMS: Tencent Cloud SMS (API 2021-01-11); endpoint and scheme are settings so tests use a local fake.
    sms_secret_id: str | None = Field(None, description="Tencent Cloud SecretId; SMS is off without it")
    sms_secret_key: str | None = Field(None, description="Tencent Cloud SecretKey (refused as a placeholder in production)")
    sms_sdk_app_id: str = Field("", description="SmsSdkAppId")
    sms_sign_name: str = Field("", description="The approved signature (签名)")
    sms_template_id: str = Field("", description="Approved template with one parameter: the message text")
    sms_templates: dict[str, str] = Field(default_factory=dict, description="Our template -> provider template id")
    sms_endpoint: str = Field("sms.tencentcloudapi.com")
    sms_scheme: Literal["https", "http"] = Field("https")
    sms_region: str = Field("ap-guangzhou")
    sms_callback_token: str | None = Field(None, description="Token the status callback URL must carry (?token=)")

    wecom_webhook_url: str | None = Field(None, description="企业微信 group robot webhook URL")
    dingtalk_webhook_url: str | None = Field(None, description="钉钉 robot webhook URL (with access_token)")
    dingtalk_secret: str | None = Field(None, description="钉钉 robot 加签 secret (SEC...)")

    smtp_host: str | None = Field(None, description="SMTP server; e-mail is off without it")
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_sender: str = Field("noreply@baoxue.local")
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> "NotificationsSettings":
        if self.channel == "webhook" and not self.webhook_url:
            raise ValueError("BAOXUE_WEBHOOK_URL is required when BAOXUE_CHANNEL=webhook")
        return self

    @model_validator(mode="after")
    def _quiet_hours_read(self) -> "NotificationsSettings":
        windows = {"BAOXUE_QUIET_HOURS": self.quiet_hours or "00:00-00:00",
                   **{f"BAOXUE_COUNTY_QUIET_HOURS[{k}]": v for k, v in self.county_quiet_hours.items()}}
        for name, text in windows.items():
            try:
                QuietHours.parse(text)
            except ValueError:
                raise ValueError(f"{name} must read HH:MM-HH:MM, not {text!r}") from None
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> "NotificationsSettings":
        if self.env != "production":
            return self
        if self.sms_secret_id and _placeholder(self.sms_secret_key):
            raise ValueError("BAOXUE_SMS_SECRET_KEY is a placeholder; set the real key in production")
        if self.sms_secret_id and _placeholder(self.sms_callback_token):
            raise ValueError("BAOXUE_SMS_CALLBACK_TOKEN is a placeholder; set a real token in production")
        if self.dingtalk_webhook_url and _placeholder(self.dingtalk_secret):
            raise ValueError("BAOXUE_DINGTALK_SECRET is a placeholder; 加签 is required in production")
        if self.smtp_username and _placeholder(self.smtp_password):
            raise ValueError("BAOXUE_SMTP_PASSWORD is a placeholder; set the real password in production")
        return self
