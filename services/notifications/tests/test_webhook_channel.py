"""The webhook channel delivers each notification once, rides out a gateway hiccup, and never drops a message."""

from __future__ import annotations

import json

import httpx
import pytest

from services.notifications.adapters.channels import DeliveryRefused, HttpWebhookChannel
from services.runtime.consumer import TransientError


class Gateway:
    """A fake SMS gateway: answers with the given statuses in turn, remembers what it received."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.received: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        return httpx.Response(self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0])

    def channel(self) -> HttpWebhookChannel:
        client = httpx.Client(transport=httpx.MockTransport(self))
        return HttpWebhookChannel("https://gateway.example/sms", client=client, token="t", attempts=3, max_wait_s=0.01)


def test_a_gateway_hiccup_is_retried_and_the_message_goes_once():
    gateway = Gateway(503, 200)
    channel = gateway.channel()
    channel.send("n-1", "twp-wang", "文本", template="suspected_dropout_township", address="13800000001")
    channel.send("n-1", "twp-wang", "文本", template="suspected_dropout_township", address="13800000001")

    assert len(gateway.received) == 2  # one retry, then nothing for the duplicate
    last = gateway.received[-1]
    assert last.headers["Idempotency-Key"] == "n-1" and last.headers["Authorization"] == "Bearer t"
    assert json.loads(last.content) == {
        "notification_id": "n-1", "recipient_id": "twp-wang", "address": "13800000001",
        "template": "suspected_dropout_township", "text": "文本",
    }


def test_a_gateway_that_already_has_the_message_counts_as_delivered():
    gateway = Gateway(409)
    gateway.channel().send("n-2", "cty-zhao", "文本")
    assert len(gateway.received) == 1


def test_an_outage_is_transient_so_the_consumer_tries_again_later():
    with pytest.raises(TransientError):
        Gateway(502).channel().send("n-3", "cty-zhao", "文本")


def test_a_refused_message_is_not_retried():
    gateway = Gateway(400)
    with pytest.raises(DeliveryRefused):
        gateway.channel().send("n-4", "cty-zhao", "文本")
    assert len(gateway.received) == 1
