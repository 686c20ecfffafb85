"""The services' public HTTP APIs as the simulator's actors use them: bearer tokens per role, and retries that
ride out a restarting process or database (a retried command that already took effect answers 409: done)."""

from __future__ import annotations

import itertools
import time
from typing import Any

import httpx

from simulator.tokens import DevTokens


class ApiError(RuntimeError):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.request.method} {response.request.url} → {response.status_code}: "
                         f"{response.text[:500]}")
        self.response = response


class Api:
    """One HTTP client for every service; `token(role, jurisdiction)` picks whose token a call carries; a service
    with several API processes (``urls`` maps it to a list) gets its calls spread over them in turn."""

    def __init__(self, urls: dict[str, str | list[str]], tokens: DevTokens | None = None,
                 retry_for: float = 180.0) -> None:
        self.urls = {s: [u] if isinstance(u, str) else list(u) for s, u in urls.items()}
        self.codec = tokens or DevTokens()
        self._turn = itertools.count()
        self.http = httpx.Client(timeout=120)
        self.retry_for = retry_for
        self._tokens: dict[tuple, dict[str, str]] = {}
        self.calls = 0
        self.retries = 0

    def token(self, role: str, jurisdiction: str, user_id: str | None = None,
              schools: list[str] | None = None) -> dict[str, str]:
        key = (role, jurisdiction, user_id, tuple(schools or ()))
        if key not in self._tokens:
            token = self.codec.mint(user_id or f"sim-{role}-{jurisdiction}", role, jurisdiction, schools=schools)
            self._tokens[key] = {"Authorization": "Bearer " + token}
        return self._tokens[key]

    def call(self, method: str, service: str, path: str, headers: dict[str, str], *, ok: tuple[int, ...] = (),
             **kwargs: Any) -> httpx.Response:
        """Sends a request; retries transport errors and 5xx; 409 after a retry means the first attempt took."""
        deadline = time.monotonic() + self.retry_for
        retried = False
        while True:
            self.calls += 1
            try:
                r = self.http.request(method, self.base(service) + path, headers=headers, **kwargs)
            except httpx.TransportError:
                r = None
            if r is not None and r.status_code < 500 and r.status_code != 429:
                if r.status_code < 400 or r.status_code in ok or (retried and r.status_code == 409):
                    return r
                raise ApiError(r)
            if time.monotonic() > deadline:
                if r is None:
                    raise TimeoutError(f"{method} {service}{path}: no answer for {self.retry_for:.0f} s")
                raise ApiError(r)
            retried = True
            self.retries += 1
            time.sleep(0.5 if r is None or r.status_code != 429 else float(r.headers.get("Retry-After", "1")))

    def base(self, service: str) -> str:
        """The address of the service's API process this call goes to (the next in turn if there are several)."""
        copies = self.urls[service]
        return copies[next(self._turn) % len(copies)] if len(copies) > 1 else copies[0]

    def get(self, service: str, path: str, headers: dict[str, str], **kwargs: Any) -> Any:
        return self.call("GET", service, path, headers, **kwargs).json()

    def post(self, service: str, path: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
        return self.call("POST", service, path, headers, **kwargs)

    def put(self, service: str, path: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
        return self.call("PUT", service, path, headers, **kwargs)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        for service, url in ((s, u) for s, copies in self.urls.items() for u in copies):
            while True:
                try:
                    if self.http.get(url + "/readyz", timeout=3).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{service} at {url} is not ready")
                time.sleep(0.2)

    def close(self) -> None:
        self.http.close()
