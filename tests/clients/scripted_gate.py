"""A real HTTP server on 127.0.0.1 that plays the gate from a script: each request gets the next
reply scripted for its method and path, and is recorded with the moment it arrived."""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROBLEM = "urn:arr-lease-governor:problem:"


@dataclass
class Reply:
    status: int = 200
    body: object = None
    headers: dict = field(default_factory=dict)
    hang_up: bool = False  # close the connection without answering: a connection error


def problem(status: int, reason: str, detail: str = "", retry_after: int | None = None, **figures) -> Reply:
    body = {"type": PROBLEM + reason, "title": reason, "status": status, "detail": detail, **figures}
    headers = {"Content-Type": "application/problem+json"}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return Reply(status, body, headers)


@dataclass
class Seen:
    at: float  # time.monotonic() on arrival
    method: str
    path: str
    headers: dict
    body: object


class ScriptedGate:
    def __init__(self):
        self.replies: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api"

    def script(self, method: str, path: str, *replies: Reply) -> None:
        self.replies[(method, "/api" + path)].extend(replies)

    def requests(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        with self._lock:
            return [
                s for s in self.seen if (method in (None, s.method)) and (path in (None, s.path.removeprefix("/api")))
            ]

    def gaps(self, method: str, path: str) -> list[float]:
        times = [s.at for s in self.requests(method, path)]
        return [later - earlier for earlier, later in itertools.pairwise(times)]

    def start(self) -> ScriptedGate:
        self._thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _next(self, method: str, path: str) -> Reply:
        with self._lock:
            queue = self.replies.get((method, path))
            if not queue:
                return problem(418, "unscripted", f"{method} {path}")  # a 4xx the client does not retry
            return queue.popleft() if len(queue) > 1 else queue[0]  # the last reply repeats


def _handler(gate: ScriptedGate):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            with gate._lock:
                gate.seen.append(
                    Seen(
                        time.monotonic(), self.command, self.path, dict(self.headers), json.loads(raw) if raw else None
                    )
                )
            reply = gate._next(self.command, self.path)
            if reply.hang_up:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            payload = b"" if reply.body is None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            headers = {"Content-Type": "application/json", **reply.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_DELETE = _serve

        def log_message(self, *args):
            pass

    return Handler
