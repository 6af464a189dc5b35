"""Project webhooks: warn, stop, extend and refused events, signed and delivered off the sweep's path.

The body is JSON; `X-Governor-Signature-256: sha256=<hex>` is HMAC-SHA256 of the exact body bytes
with the project's webhook secret. Each attempt has a timeout, failed attempts (connection errors,
429, 5xx) are retried a bounded number of times with jittered backoff, and nothing here ever raises
into the caller: delivery runs on a small thread pool and failures are logged and counted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from urllib.parse import urlsplit

log = logging.getLogger("governor.webhooks")

SIGNATURE_HEADER = "X-Governor-Signature-256"
EVENT_HEADER = "X-Governor-Event"
DELIVERY_HEADER = "X-Governor-Delivery"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, body), signature or "")


def _safe_url(url: str) -> str:
    """Scheme and host only, for logs (a webhook URL may carry a token in its path or query)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}"


class WebhookSender:
    def __init__(self, timeout: float = 5.0, attempts: int = 3, backoff: float = 0.5, max_workers: int = 4):
        self.timeout = timeout
        self.attempts = max(attempts, 1)
        self.backoff = backoff
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="webhook")
        self._pending: set[Future] = set()
        self._lock = threading.Lock()
        self.delivered = 0
        self.failed = 0

    def send(self, url: str, secret: str | None, payload: dict) -> Future | None:
        """Queue one delivery; returns at once. Unsigned deliveries are refused (logged, counted)."""
        if not secret:
            log.warning("webhook of project %s not sent: no webhook secret", payload.get("project"))
            with self._lock:
                self.failed += 1
            return None
        if urlsplit(url).scheme not in ("http", "https"):
            log.warning("webhook of project %s not sent: URL is not http(s)", payload.get("project"))
            with self._lock:
                self.failed += 1
            return None
        future = self._pool.submit(self._deliver, url, secret, payload)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)

    def drain(self, timeout: float) -> int:
        """Wait up to `timeout` seconds for queued deliveries; returns how many are still running."""
        with self._lock:
            pending = list(self._pending)
        if not pending:
            return 0
        _, not_done = wait(pending, timeout=timeout)
        return len(not_done)

    def _deliver(self, url: str, secret: str, payload: dict) -> bool:
        import urllib.error
        import urllib.request

        body = json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "arr-lease-governor",
            EVENT_HEADER: str(payload.get("event")),
            DELIVERY_HEADER: str(uuid.uuid4()),
            SIGNATURE_HEADER: sign(secret, body),
        }
        status = None
        for attempt in range(1, self.attempts + 1):
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except (OSError, ValueError):
                status = None
            if status is not None and 200 <= status < 300:
                with self._lock:
                    self.delivered += 1
                return True
            if status is not None and status < 500 and status != 429:
                break  # the receiver refused it; retrying will not help
            if attempt < self.attempts:
                time.sleep(self.backoff * (2 ** (attempt - 1)) * (0.5 + random.random()))
        with self._lock:
            self.failed += 1
        log.warning(
            "webhook %s of project %s to %s failed (last status %s)",
            payload.get("event"),
            payload.get("project"),
            _safe_url(url),
            status,
        )
        return False


_default: WebhookSender | None = None
_default_lock = threading.Lock()


def default_sender(timeout: float) -> WebhookSender:
    """One pool per process (the timer's worker lives on between runs)."""
    global _default
    with _default_lock:
        if _default is None or _default.timeout != timeout:
            _default = WebhookSender(timeout=timeout)
        return _default
