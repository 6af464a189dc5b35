"""The pooled HTTP session of one ArrClient, with urllib3's Retry bounded by total time.

Two retry policies:

- idempotent calls (GET, 2021 PUT/PATCH/:stop, v1 PATCH/DELETE, STS): retried on connect
  errors, read errors and timeouts, 429 and 5xx, with exponential backoff and jitter,
  honouring Retry-After;
- v1 create (POST .../sessions/create, not idempotent: each call makes a new session):
  retried only when ARR provably did not create a session: connect errors (refused or
  timed out before the request was sent) and 429/503 answers (throttled or unavailable
  before processing). A read timeout, a dropped connection or another 5xx after the
  request may have reached ARR is never retried; the caller gets an `indeterminate` error.

Every retry sequence stops when the next wait would exceed `budget` seconds since the
first failure; then the last response (or error) is handed to the client.

The adapter is the caller's to choose (`adapter`): the client's makes a span of each attempt.
"""

from __future__ import annotations

import os
import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError, ResponseError, TimeoutError
from urllib3.util.retry import Retry

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
NOT_PROCESSED_STATUSES = frozenset({429, 503})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE", "POST"})


class BoundedRetry(Retry):
    """urllib3 Retry that also gives up when the next wait would exceed a total time budget."""

    def __init__(self, *args, budget: float = 30.0, started: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.budget = budget
        self.started = started

    def new(self, **kw):
        kw.setdefault("budget", self.budget)
        kw.setdefault("started", self.started)
        return super().new(**kw)

    def get_retry_after(self, response):
        try:
            return super().get_retry_after(response)
        except Exception:  # a malformed Retry-After falls back to our own backoff
            return None

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        started = self.started if self.started is not None else time.monotonic()
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        retry.started = started
        wait = retry.get_backoff_time()
        if response is not None and self.respect_retry_after_header:
            wait = max(wait, retry.get_retry_after(response) or 0)
        if time.monotonic() - started + wait > self.budget:
            reason = error or ResponseError(f"retry budget of {self.budget:g}s exhausted")
            raise MaxRetryError(_pool, url, reason) from error
        return retry


def _retry(budget: float, idempotent: bool) -> BoundedRetry:
    common = {
        "budget": budget,
        "backoff_factor": 0.2,
        "backoff_jitter": 0.3,
        "backoff_max": 8.0,
        "raise_on_status": False,
        "raise_on_redirect": False,
        "redirect": 0,
        "respect_retry_after_header": True,
    }
    if idempotent:
        return BoundedRetry(total=50, allowed_methods=IDEMPOTENT_METHODS, status_forcelist=RETRY_STATUSES, **common)
    # read=False: never resend after the request may have been sent; POST must be "allowed"
    # for urllib3 to consider the 429/503 status retries at all.
    return BoundedRetry(
        total=50,
        read=False,
        other=0,
        allowed_methods=frozenset({"POST"}),
        status_forcelist=NOT_PROCESSED_STATUSES,
        **common,
    )


def build_session(
    budget: float, non_idempotent_prefixes: tuple[str, ...] = (), pool_size: int = 16, adapter=HTTPAdapter
):
    """A requests.Session: idempotent retry policy everywhere, the cautious one under the
    given URL prefixes (requests picks the longest matching mount)."""
    session = requests.Session()
    # No proxies or netrc credentials from the environment (netrc would replace our bearer
    # token); a private CA bundle (e.g. the emulator's TLS mode) is still honoured.
    session.trust_env = False
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or True
    safe = adapter(max_retries=_retry(budget, True), pool_maxsize=pool_size)
    session.mount("https://", safe)
    session.mount("http://", safe)
    for prefix in non_idempotent_prefixes:
        session.mount(prefix, adapter(max_retries=_retry(budget, False), pool_maxsize=pool_size))
    return session


def single_attempt_session(adapter=HTTPAdapter):
    """A requests.Session that sends each request once: no retries, no redirects (health probes)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or True
    once = adapter(max_retries=Retry(total=0, read=False, redirect=0, raise_on_status=False), pool_maxsize=4)
    session.mount("https://", once)
    session.mount("http://", once)
    return session


def _reason(exc: BaseException) -> BaseException:
    cause = exc.args[0] if exc.args else None
    return cause.reason if isinstance(cause, MaxRetryError) and cause.reason else exc


def sent_nothing(exc: BaseException) -> bool:
    """True when requests failed before any byte of the request reached the server."""
    return isinstance(exc, requests.exceptions.ConnectTimeout) or isinstance(_reason(exc), ConnectTimeoutError)


def timed_out(exc: BaseException) -> bool:
    reason = _reason(exc)
    return isinstance(exc, requests.Timeout) or (
        isinstance(reason, TimeoutError) and not isinstance(reason, NewConnectionError)
    )
