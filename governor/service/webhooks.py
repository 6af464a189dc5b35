"""Project webhooks: warn, stop, extend and refused events, signed and delivered off the sweep's path.

Each delivery is a CloudEvents 1.0 JSON event (structured mode) signed as the Standard Webhooks
specification says: `webhook-id` (the event id, the same on every retry), `webhook-timestamp`
(Unix seconds of the attempt) and `webhook-signature` = `v1,` + base64 HMAC-SHA256 of
`{id}.{timestamp}.{body}` under the project's `whsec_` secret (the `standardwebhooks` library,
imported on the delivery thread). A receiver that checks the timestamp's age and remembers ids
rejects replays. Each attempt has a timeout, failed attempts (connection errors, 429, 5xx) are
retried a bounded number of times with jittered backoff, redirects are never followed (a 301/302
would turn the POST into a GET), and nothing here ever raises into the caller: delivery runs on a
small thread pool and failures are logged and counted.

The URL is checked again at each attempt (`limits.webhook_target`, the rule a project document is
saved by), its host resolved, every address it resolves to checked (no loopback, private,
link-local, unique-local, unspecified or metadata address), and the request sent to a checked
address (with the URL's host in `Host` and TLS's SNI and certificate check), so a name that
resolves somewhere else at delivery than at save time, or differently between two look-ups,
reaches nothing inside. Loopback hosts only with `allow_loopback_http` (the local-only setting
GOVERNOR_WEBHOOK_ALLOW_LOOPBACK_HTTP).
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import random
import socket
import ssl
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from urllib.parse import urlsplit

from governor.core.policy.document import WEBHOOK_SECRET_PREFIX
from governor.core.policy.limits import WebhookTarget, address_problem, webhook_target

log = logging.getLogger("governor.webhooks")

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
CONTENT_TYPE = "application/cloudevents+json"
EVENT_SOURCE = "urn:arr-lease-governor"
EVENT_TYPE_PREFIX = "com.arr-lease-governor.session."


def _signer(secret: str):
    from standardwebhooks.webhooks import Webhook  # lazy: optional feature (only a project with a webhook signs)

    if secret.startswith(WEBHOOK_SECRET_PREFIX):
        return Webhook(secret)
    # a secret stored before secrets had to be `whsec_...`: its UTF-8 bytes are the key
    return Webhook(secret.encode("utf-8"))


def sign(secret: str, event_id: str, at: datetime, body: bytes) -> str:
    """The `webhook-signature` header value for one attempt."""
    return _signer(secret).sign(event_id, at, body.decode("utf-8"))


def event_data(
    event: str,
    project: str,
    session_id: str,
    reason: str,
    figures: dict,
    at: datetime,
    dry_run: bool = False,
    outcome: str = "ok",
) -> dict:
    """What one governor event says (the `data` of its CloudEvent), from the gate or the sweep."""
    return {
        "event": event,
        "project": project,
        "sessionId": session_id,
        "reason": reason,
        "figures": figures,
        "dryRun": dry_run,
        "outcome": outcome,
        "at": at.isoformat(),
    }


def cloud_event(payload: dict, event_id: str | None = None) -> dict:
    """The CloudEvents 1.0 envelope of one governor event (its fields stay in `data`)."""
    event = {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": EVENT_SOURCE + ":project:" + str(payload.get("project")),
        "type": EVENT_TYPE_PREFIX + str(payload.get("event")),
        "datacontenttype": "application/json",
        "data": payload,
    }
    if payload.get("sessionId"):
        event["subject"] = str(payload["sessionId"])
    if payload.get("at"):
        event["time"] = str(payload["at"])
    return event


def _safe_url(url: str) -> str:
    """Scheme and host only, for logs (a webhook URL may carry a token in its path or query)."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname or '?'}"
    except ValueError:
        return "(an invalid URL)"


class RefusedDestination(ValueError):
    """The URL, or an address its host resolves to, is no place to deliver to."""


def resolve(target: WebhookTarget, allow_loopback: bool = False) -> list[str]:
    """The addresses to connect to for `target`, every one checked; raise RefusedDestination if
    any is refused (a name with one inside address among public ones is refused whole)."""
    if target.address is not None:
        found = [target.address]
    else:
        try:
            infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise RefusedDestination(f"the host does not resolve ({type(exc).__name__})") from None
        # an IP family's sockaddr starts with the address text (typeshed's `str | int` also covers other families)
        found = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not found:
        raise RefusedDestination("the host resolves to no address")
    for address in found:
        problem = address_problem(address)
        if problem is None:
            continue
        if problem == "a loopback address" and allow_loopback and target.loopback:
            continue
        raise RefusedDestination(f"the host resolves to {problem}")
    return list(dict.fromkeys(str(a) for a in found))


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """http.client to a checked address: the URL's host goes in `Host`, the socket to `address`."""

    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """The same over TLS: the certificate is checked against the URL's host, not the address."""

    def __init__(self, host: str, port: int, address: str, timeout: float):
        self.tls = ssl.create_default_context()  # kept here: the base class's own `_context` is private
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def post(target: WebhookTarget, address: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """One POST to `address`; the status. A redirect is a status like any other (never followed)."""
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = kind(target.host, target.port, address, timeout)
    try:
        connection.request("POST", target.target, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
        return response.status
    finally:
        connection.close()


class WebhookSender:
    def __init__(
        self,
        timeout: float = 5.0,
        attempts: int = 3,
        backoff: float = 0.5,
        max_workers: int = 4,
        allow_loopback_http: bool = False,
    ):
        self.timeout = timeout
        self.allow_loopback_http = allow_loopback_http
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
        event = cloud_event(payload)
        body = json.dumps(event, separators=(",", ":"), sort_keys=True, default=str).encode("utf-8")
        status = None
        for attempt in range(1, self.attempts + 1):
            try:
                target = webhook_target(url, self.allow_loopback_http)
                addresses = resolve(target, self.allow_loopback_http)
            except ValueError as exc:  # RefusedDestination too: refused, not retried
                with self._lock:
                    self.failed += 1
                log.warning(
                    "webhook %s of project %s to %s not sent: %s",
                    payload.get("event"),
                    payload.get("project"),
                    _safe_url(url),
                    exc,
                )
                return False
            at = datetime.now(UTC)
            headers = {
                "Content-Type": CONTENT_TYPE,
                "User-Agent": "arr-lease-governor",
                ID_HEADER: event["id"],
                TIMESTAMP_HEADER: str(int(at.timestamp())),
                SIGNATURE_HEADER: sign(secret, event["id"], at, body),
            }
            status = None
            for address in addresses:  # the first one that answers
                try:
                    status = post(target, address, body, headers, self.timeout)
                    break
                except (OSError, ValueError, http.client.HTTPException):
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


def default_sender(timeout: float, allow_loopback_http: bool = False) -> WebhookSender:
    """One pool per process (the timer's worker lives on between runs)."""
    global _default
    with _default_lock:
        if _default is None or (_default.timeout, _default.allow_loopback_http) != (timeout, allow_loopback_http):
            _default = WebhookSender(timeout=timeout, allow_loopback_http=allow_loopback_http)
        return _default
