"""Channel adapters: how a message reaches a person. Each is idempotent on the notification id,
because the consumer may call it again after a crash between sending and saving (at-least-once)."""

from __future__ import annotations

import fcntl
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from services.runtime.consumer import TransientError


class FileChannel:
    """Appends one JSON line per notification to ``{data_dir}/notifications/outbox.jsonl`` (local runs).

    Several processes (consumer, API) may append: under the file lock each first reads what others wrote."""

    name = "file"

    def __init__(self, data_dir: Path, now: Callable[[], datetime]) -> None:
        self.path = Path(data_dir) / "notifications" / "outbox.jsonl"
        self.now = now
        self._sent: set[str] = set()
        self._read_to = 0
        self._lock = threading.Lock()

    def _catch_up(self, fh: Any) -> None:
        fh.seek(self._read_to)
        for line in fh.read().splitlines():
            if line.strip():
                self._sent.add(json.loads(line)["notification_id"])
        self._read_to = fh.tell()

    def send(self, notification_id: str, recipient_id: str, text: str, *, template: str | None = None,
             address: str | None = None, **_: Any) -> None:
        with self._lock:
            if notification_id in self._sent:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            record: dict[str, Any] = {
                "notification_id": notification_id,
                "recipient_id": recipient_id,
                "template": template,
                "text": text,
                "written_at": self.now().isoformat(),
            }
            if address is not None:
                record["address"] = address
            with self.path.open("a+", encoding="utf-8") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                self._catch_up(fh)
                if notification_id not in self._sent:
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                    fh.flush()
                    self._read_to = fh.tell()
                    self._sent.add(notification_id)

    def lines(self) -> list[dict[str, Any]]:
        """What the outbox holds (for tests and the demo)."""
        if not self.path.exists():
            return []
        return [json.loads(x) for x in self.path.read_text(encoding="utf-8").splitlines() if x.strip()]


class LogChannel:
    """Writes the message to the structured log; duplicates are suppressed within one process."""

    name = "log"

    def __init__(self, logger: Any) -> None:
        self.log = logger.bind(component="channel", channel=self.name)
        self._sent: set[str] = set()

    def send(self, notification_id: str, recipient_id: str, text: str, *, template: str | None = None,
             address: str | None = None, **_: Any) -> None:
        if notification_id in self._sent:
            return
        self.log.info("notification_delivered", notification_id=notification_id, recipient_id=recipient_id,
                      template=template, text=text)
        self._sent.add(notification_id)


class DeliveryRefused(Exception):
    """The gateway refused a message for good (a 4xx other than a duplicate): retrying cannot help."""


class ProviderUnavailable(Exception):
    """The provider could not take the message now (5xx, rate limit, network): a later attempt may succeed."""


@dataclass(frozen=True)
class OutboundMessage:
    """What a provider channel sends: the text, where to, and the idempotency key (delivery id) it dedupes on."""

    idempotency_key: str
    recipient_id: str
    address: str | None
    template: str
    text: str


def mask_address(address: str | None) -> str:
    """How an address may appear in logs: 138****5678, z***@example.cn, never in full."""
    if not address:
        return "-"
    if "@" in address:
        user, _, domain = address.partition("@")
        return f"{user[:1]}***@{domain}"
    digits = address.strip()
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 8 else "****"


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500 or exc.response.status_code == 429
    return isinstance(exc, httpx.TransportError)


class HttpWebhookChannel:
    """POSTs each message as JSON to a gateway (SMS, 政务微信, ...) with the notification id as the
    ``Idempotency-Key``; the gateway answering 409 means it already has it. Outages are retried with
    backoff, then raised as transient so the consumer tries again later instead of dropping the message."""

    name = "webhook"

    def __init__(self, url: str, *, client: httpx.Client | None = None, token: str | None = None,
                 attempts: int = 4, timeout_s: float = 5.0, max_wait_s: float = 2.0) -> None:
        self.url = url
        self.client = client or httpx.Client(timeout=timeout_s)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.retrying = Retrying(
            retry=retry_if_exception(_retryable), stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=0.1, max=max_wait_s), reraise=True,
        )
        self._sent: set[str] = set()

    def _post(self, body: dict[str, Any]) -> None:
        response = self.client.post(self.url, json=body,
                                    headers={**self.headers, "Idempotency-Key": body["notification_id"]})
        if response.status_code == 409:
            return
        response.raise_for_status()

    def send(self, notification_id: str, recipient_id: str, text: str, *, template: str | None = None,
             address: str | None = None, **_: Any) -> None:
        if notification_id in self._sent:
            return
        body = {"notification_id": notification_id, "recipient_id": recipient_id, "address": address,
                "template": template, "text": text}
        try:
            self.retrying(self._post, body)
        except httpx.HTTPStatusError as exc:
            if _retryable(exc):
                raise TransientError(f"webhook {exc.response.status_code}") from exc
            raise DeliveryRefused(f"webhook refused {notification_id}: {exc.response.status_code}") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"webhook unreachable: {exc}") from exc
        self._sent.add(notification_id)


class FileDeliveryChannel:
    """The outbox's local provider (``file`` in preferences or BAOXUE_DELIVERY_CHANNELS): one JSON line per
    delivery in ``{data_dir}/notifications/deliveries.jsonl``, deduplicated on the delivery id."""

    name = "file"

    def __init__(self, data_dir: Path, now: Callable[[], datetime]) -> None:
        self.file = FileChannel(data_dir, now)
        self.file.path = Path(data_dir) / "notifications" / "deliveries.jsonl"

    def send(self, message: OutboundMessage) -> str | None:
        self.file.send(message.idempotency_key, message.recipient_id, message.text, template=message.template,
                       address=message.address)
        return None
