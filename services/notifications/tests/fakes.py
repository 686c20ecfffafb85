"""Local fake providers for the delivery tests: Tencent Cloud SMS (the SendSms API shape), a WeCom / DingTalk
group robot, and an SMTP server (aiosmtpd). Each drops a second copy of the same idempotency key, as a
provider that accepts one does, and can be told to fail. Shared: the delivery tests and the end-to-end story
(``tests/e2e/test_case_story.py``, which points a whole stack's delivery worker at them) use the same fakes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import uuid
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from aiosmtpd.controller import Controller


class _Http:
    """A threaded HTTP server whose POSTs go to ``self.handle(path, query, headers, body) -> (status, json)``."""

    def __init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                url = urlparse(self.path)
                status, answer = outer.handle(url.path, parse_qs(url.query), dict(self.headers), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.lock = threading.Lock()
        self.plan: list[Any] = []  # what to answer next, one item per request ("ok" when empty)
        self.requests = 0

    def start(self) -> _Http:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def next_step(self) -> Any:
        with self.lock:
            self.requests += 1
            return self.plan.pop(0) if self.plan else "ok"

    def handle(self, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        raise NotImplementedError


class FakeTencentSms(_Http):
    """Tencent Cloud SMS 2021-01-11 ``SendSms``: JSON in, ``{"Response": {"SendStatusSet": [...]}}`` out.
    A plan item is "ok", an HTTP status (500), an error code string ("FailedOperation.TemplateIncorrect"), or
    "hold": accept the message, then answer only once ``released`` is set (to kill a sender in between)."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: dict[str, dict[str, Any]] = {}  # SessionContext -> accepted request
        self.serials: dict[str, str] = {}
        self.released = threading.Event()

    def handle(self, path, query, headers, body):
        request_id = str(uuid.uuid4())
        if headers.get("X-TC-Action") != "SendSms" or "TC3-HMAC-SHA256" not in headers.get("Authorization", ""):
            return 200, {"Response": {"Error": {"Code": "AuthFailure", "Message": "unsigned"}, "RequestId": request_id}}
        step = self.next_step()
        if isinstance(step, int):
            return step, {"error": "busy"}
        if step not in ("ok", "hold"):
            return 200, {"Response": {"Error": {"Code": step, "Message": "refused"}, "RequestId": request_id}}
        req = json.loads(body)
        key = req.get("SessionContext") or request_id
        with self.lock:
            if key not in self.messages:
                self.messages[key] = req
                self.serials[key] = f"2433:{uuid.uuid4().hex[:16]}"
            serial = self.serials[key]
        if step == "hold":
            self.released.wait(30)
        phone = req["PhoneNumberSet"][0]
        return 200, {"Response": {"SendStatusSet": [{
            "SerialNo": serial, "PhoneNumber": phone, "Fee": 1, "SessionContext": key, "Code": "Ok",
            "Message": "send success", "IsoCode": "CN"}], "RequestId": request_id}}


class FakeRobot(_Http):
    """A WeCom / DingTalk group robot: records each JSON body (deduped on X-Idempotency-Key); when ``secret``
    is given, refuses requests whose DingTalk ``timestamp`` / ``sign`` do not verify (errcode 310000)."""

    def __init__(self, secret: str | None = None) -> None:
        super().__init__()
        self.secret = secret
        self.messages: dict[str, dict[str, Any]] = {}

    def handle(self, path, query, headers, body):
        step = self.next_step()
        if isinstance(step, int):
            return step, {"errcode": -1, "errmsg": "busy"}
        if self.secret is not None:
            ts = query.get("timestamp", [""])[0]
            digest = hmac.new(self.secret.encode(), f"{ts}\n{self.secret}".encode(), hashlib.sha256).digest()
            if query.get("sign", [""])[0] != base64.b64encode(digest).decode():
                return 200, {"errcode": 310000, "errmsg": "sign not match"}
        key = headers.get("X-Idempotency-Key") or str(uuid.uuid4())
        with self.lock:
            self.messages.setdefault(key, json.loads(body))
        return 200, {"errcode": 0, "errmsg": "ok"}


class FakeSmtp:
    """aiosmtpd on a free port; keeps one message per Message-ID."""

    def __init__(self) -> None:
        self.messages: dict[str, Any] = {}
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                mail = message_from_bytes(envelope.content)
                outer.messages.setdefault(mail["Message-ID"], mail)
                return "250 OK"

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> FakeSmtp:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
