"""One gate call: authentication headers, JSON in and out, problem answers, and retries."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from governor_client.errors import GovernorError
from governor_client.retry import RETRYABLE_STATUS, RetryPolicy, parse_retry_after
from governor_client.version import __version__

# A waiting function: sleeps, and answers truthy when the wait was cut short (threading.Event.wait).
Wait = Callable[[float], Any]


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: Mapping[str, str] = field(repr=False)  # case-insensitive, as requests gives them

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("Retry-After"))


class Transport:
    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        function_key: str | None,
        timeout: float,
        retry: RetryPolicy,
        http: requests.Session | None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry
        self.http = http or requests.Session()
        self._headers = {
            "X-Api-Key": key,
            "Accept": "application/json",
            "User-Agent": f"arr-governor-client/{__version__}",
        }
        if function_key:
            self._headers["x-functions-key"] = function_key
        # The heartbeat thread and the app share one requests.Session, which is not thread-safe.
        self._sending = threading.Lock()

    def call(self, method: str, path: str, *, body: Any = None, headers: dict | None = None, wait: Wait = time.sleep):
        """The 2xx answer, after retrying 5xx, 429 and connection failures; a GovernorError otherwise.

        Every attempt sends the same headers, so a create's Idempotency-Key makes its retries safe."""
        retry = 0
        while True:
            retry += 1
            try:
                answer = self._send(method, path, body, headers)
            except (requests.ConnectionError, requests.Timeout) as exc:
                error = GovernorError("unreachable", f"{type(exc).__name__} on {method} {path}")
                error.__cause__ = exc
            else:
                if answer.status < 400:
                    return answer
                error = GovernorError.from_problem(answer.status, answer.body, answer.retry_after)
                if answer.status not in RETRYABLE_STATUS:
                    raise error
            pause = self.retry.delay(retry, error.retry_after)
            if pause is None or wait(pause):
                raise error

    def _send(self, method: str, path: str, body: Any, headers: dict | None) -> Answer:
        with self._sending:
            response = self.http.request(
                method,
                self.base_url + path,
                json=body,
                headers={**self._headers, **(headers or {})},
                timeout=self.timeout,
            )
        try:
            parsed = response.json() if response.content else None
        except ValueError:
            parsed = None
        return Answer(response.status_code, parsed, response.headers)
