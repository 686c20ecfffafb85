"""E-mail through SMTP (the standard library's smtplib): the delivery id is the Message-ID, so a receiving
system (and the test's fake server) can drop a second copy of the same delivery."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from services.notifications.adapters.channels import DeliveryRefused, OutboundMessage, ProviderUnavailable
from services.notifications.domain.templates import SUBJECTS


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    sender: str = "noreply@baoxue.local"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 10.0


def message_id(key: str, sender: str) -> str:
    return f"<{key}@{sender.partition('@')[2] or 'baoxue.local'}>"


class SmtpEmailChannel:
    """One e-mail per message, plain text in UTF-8, subject from the template."""

    name = "email"

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def send(self, message: OutboundMessage) -> str | None:
        if not message.address or "@" not in message.address:
            raise DeliveryRefused("email: the recipient has no e-mail address")
        mail = EmailMessage()
        mail["From"] = self.config.sender
        mail["To"] = message.address
        mail["Subject"] = SUBJECTS.get(message.template, SUBJECTS["default"])
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = message_id(message.idempotency_key, self.config.sender)
        mail.set_content(message.text)
        c = self.config
        try:
            with smtplib.SMTP(c.host, c.port, timeout=c.timeout_s) as smtp:
                if c.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if c.username:
                    smtp.login(c.username, c.password or "")
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryRefused("email: recipient refused") from None
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise ProviderUnavailable(f"email {exc.smtp_code}") from None
            raise DeliveryRefused(f"email {exc.smtp_code}") from None
        except (smtplib.SMTPException, OSError):
            raise ProviderUnavailable("email: server unreachable") from None
        return mail["Message-ID"]
