"""Enterprise-messaging group robots: 企业微信 (WeCom) and 钉钉 (DingTalk) webhooks, HTTP JSON over httpx.
DingTalk's "加签" security: ``timestamp`` (ms) and ``sign`` = base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}"))
appended to the webhook URL, as its robot documentation prescribes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

import httpx

from services.notifications.adapters.channels import DeliveryRefused, OutboundMessage, ProviderUnavailable

# errcodes that mean "not now" (-1 system busy; WeCom 45009 / DingTalk 130101 sending too fast; 45033 concurrency).
BUSY = {-1, 45009, 45033, 130101, 130102}


class RobotChannel:
    """POSTs a text message to a group robot, @-mentioning the recipient's mobile when known."""

    name = "robot"

    def __init__(self, url: str, *, client: httpx.Client | None = None, timeout_s: float = 5.0) -> None:
        self.url = url
        self.client = client or httpx.Client(timeout=timeout_s)

    def target(self) -> str:
        return self.url

    def body(self, message: OutboundMessage) -> dict[str, Any]:
        raise NotImplementedError

    def send(self, message: OutboundMessage) -> str | None:
        try:
            response = self.client.post(self.target(), json=self.body(message),
                                        headers={"X-Idempotency-Key": message.idempotency_key})
        except httpx.TransportError:
            raise ProviderUnavailable(f"{self.name} unreachable") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise ProviderUnavailable(f"{self.name} {response.status_code}")
        if response.status_code >= 400:
            raise DeliveryRefused(f"{self.name} {response.status_code}")
        try:
            code = int(response.json().get("errcode", -1))
        except (ValueError, AttributeError):
            raise ProviderUnavailable(f"{self.name}: unreadable answer") from None
        if code == 0:
            return None
        if code in BUSY:
            raise ProviderUnavailable(f"{self.name} errcode {code}")
        raise DeliveryRefused(f"{self.name} errcode {code}")


class WeComRobotChannel(RobotChannel):
    """企业微信群机器人: ``{"msgtype": "text", "text": {"content", "mentioned_mobile_list"}}``."""

    name = "wecom"

    def body(self, message: OutboundMessage) -> dict[str, Any]:
        text: dict[str, Any] = {"content": message.text}
        if message.address:
            text["mentioned_mobile_list"] = [message.address]
        return {"msgtype": "text", "text": text}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The URL-encoded ``sign`` parameter of a DingTalk robot with 加签 enabled."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


class DingTalkRobotChannel(RobotChannel):
    """钉钉自定义机器人: ``{"msgtype": "text", "text": {"content"}, "at": {"atMobiles"}}``, signed when a secret is set."""

    name = "dingtalk"

    def __init__(self, url: str, secret: str | None = None, *, client: httpx.Client | None = None,
                 timeout_s: float = 5.0, now_ms: Callable[[], int] | None = None) -> None:
        super().__init__(url, client=client, timeout_s=timeout_s)
        self.secret = secret
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))

    def target(self) -> str:
        if not self.secret:
            return self.url
        ts = self.now_ms()
        return f"{self.url}{'&' if '?' in self.url else '?'}timestamp={ts}&sign={dingtalk_sign(self.secret, ts)}"

    def body(self, message: OutboundMessage) -> dict[str, Any]:
        body: dict[str, Any] = {"msgtype": "text", "text": {"content": message.text}}
        if message.address:
            body["at"] = {"atMobiles": [message.address], "isAtAll": False}
        return body
