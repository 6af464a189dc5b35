"""The demo's webhook receiver: a small HTTP server on loopback that every project's `webhookUrl`
points at. It checks each delivery's Standard Webhooks signature with the project's secret (HMAC-
SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`, docs/governor.md "Webhooks") and keeps the
CloudEvents it received, for the timeline and the closing report.

Loopback webhook URLs need GOVERNOR_WEBHOOK_ALLOW_LOOPBACK_HTTP on the governor, which `make run`
and the demo's own stack set.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import queue
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "whsec_"
SWEEP_KINDS = ("warn", "stop", "extend", "refused")
PLACEMENT_KINDS = ("placement", "capacity")  # from the gate or the sweep, whoever placed or settled the attempt
KINDS = SWEEP_KINDS + PLACEMENT_KINDS


@dataclass(frozen=True)
class Delivery:
    kind: str  # one of KINDS
    project: str
    session_id: str
    reason: str
    figures: dict
    verified: bool  # the signature checked out with the project's secret


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def verify(secret: str, headers, body: bytes) -> bool:
    """Standard Webhooks: `webhook-signature` holds `v1,<base64 HMAC-SHA256>` entries, space-separated."""
    try:
        key = base64.b64decode(secret.removeprefix(PREFIX), validate=True)
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    except (KeyError, TypeError, binascii.Error):
        return False
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [entry.partition(",")[2] for entry in (headers.get("webhook-signature") or "").split()]
    return any(hmac.compare_digest(expected, signature) for signature in offered if signature)


class Receiver:
    """`with Receiver() as hooks`: `hooks.url(project)`, `hooks.secret(project)`, `hooks.received`;
    `hooks.fresh()` hands the deliveries not seen yet, in arrival order."""

    def __init__(self, host: str = "127.0.0.1"):
        self.received: list[Delivery] = []
        self._secrets: dict[str, str] = {}
        self._fresh: queue.Queue[Delivery] = queue.Queue()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver._receive(self.path, self.headers, body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-webhooks", daemon=True)

    def url(self, project: str) -> str:
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)  # bound to a str host: AF_INET/AF_INET6 sockets name it as str
        return f"http://{host}:{port}/webhooks/{project}"

    def secret(self, project: str) -> str:
        with self._lock:
            return self._secrets.setdefault(project, new_secret())

    def _receive(self, path: str, headers, body: bytes) -> None:
        project = path.rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            secret = self._secrets.get(project)
        try:
            data = json.loads(body).get("data") or {}
        except (ValueError, AttributeError):
            data = {}
        delivery = Delivery(
            kind=str(data.get("event", "?")),
            project=str(data.get("project", project)),
            session_id=str(data.get("sessionId", "")),
            reason=str(data.get("reason", "")),
            figures=data.get("figures") or {},
            verified=secret is not None and data.get("project") == project and verify(secret, headers, body),
        )
        with self._lock:
            self.received.append(delivery)
        self._fresh.put(delivery)

    def fresh(self) -> list[Delivery]:
        out = []
        while True:
            try:
                out.append(self._fresh.get_nowait())
            except queue.Empty:
                return out

    def later(self, delivery: Delivery) -> None:
        """Hand `delivery` to `fresh()` again (its reader was not ready for it yet)."""
        self._fresh.put(delivery)

    def kinds(self) -> set[str]:
        with self._lock:
            return {d.kind for d in self.received if d.verified}

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
