"""The local host's HTTP side: route, authorize, build `func.HttpRequest`, render the response.

Requests are dispatched through each function's own metadata (route template, methods, auth
level). Responses are rendered by azure-functions' own HttpResponseConverter, as the worker does.
Paths under /admin are the host's: ping (anonymous), status, the function list and the
invocation of non-HTTP functions (master key), like the Functions host's admin API.

Each connection has its own thread. With `threads` set (`python -m governor serve` takes it from
PYTHON_THREADPOOL_THREAD_COUNT, as the Python worker sizes its pool of sync invocations), at most
that many invocations run at once and the others wait for a slot, as they wait for the worker's
pool; unset, every connection's request runs at once.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func
from azure.functions.http import HttpResponseConverter

from governor.localhost import DEV_FUNCTION_KEY, DEV_MASTER_KEY
from governor.localhost.discovery import FunctionIndex, HttpFunction, TimerFunction
from governor.localhost.invoke import LocalContext, call
from governor.localhost.timers import TimerRunner

log = logging.getLogger("governor.localhost")

MAX_REQUEST_BYTES = 100 * 1024 * 1024  # the Functions host's request size limit
HTTP_REASON = "This function was programmatically called via the host APIs."
MAX_LINE_BYTES = 64 * 1024  # a chunk-size or trailer line (http.server's own header line limit)
MAX_TRAILERS = 100
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")  # hex digits only: no sign, '_', '0x' or spaces


@dataclass(frozen=True)
class Keys:
    """Keys the host accepts. FUNCTION level takes a function key or the master key; ADMIN only the master key."""

    function: tuple[str, ...] = ()
    master: str | None = None

    @classmethod
    def development(cls) -> Keys:
        return cls(function=(DEV_FUNCTION_KEY,), master=DEV_MASTER_KEY)

    def allows(self, auth_level: str, presented: str | None) -> bool:
        if auth_level == "anonymous":
            return True
        if not presented:
            return False
        accepted = [self.master] if self.master else []
        if auth_level == "function":
            accepted += list(self.function)
        # compare_digest on every key so timing does not tell which one nearly matched
        return any([hmac.compare_digest(presented.encode(), key.encode()) for key in accepted])

    def __repr__(self) -> str:
        return f"Keys(function={len(self.function)} key(s), master={'set' if self.master else 'unset'})"


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def json(cls, status: int, value) -> Response:
        return cls(status, [("Content-Type", "application/json; charset=utf-8")], json.dumps(value).encode())

    @classmethod
    def problem(cls, status: int, detail: str, instance: str | None = None) -> Response:
        """An RFC 9457 problem of the host's own (a request it could not read), never an HTML page."""
        value = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
        if instance:
            value["instance"] = instance
        return cls(status, [("Content-Type", "application/problem+json")], json.dumps(value).encode())


class BadRequest(Exception):
    """A request the host cannot read (malformed framing, too large): answered `status`, connection closed."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


def _join(pairs: Iterable[tuple[str, str]], lower: bool = False) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in pairs:
        name = name.lower() if lower else name
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def render(result) -> Response:
    if result is None:
        return Response(204)
    if isinstance(result, bytes | bytearray):
        return Response(200, [("Content-Type", "application/octet-stream")], bytes(result))
    datum = HttpResponseConverter.encode(result, expected_type=None)
    if datum.type == "string":
        return Response(200, [("Content-Type", "text/plain; charset=utf-8")], datum.value.encode())
    value = datum.value
    headers = [(name, header.value) for name, header in value["headers"].items()]
    for cookie in value.get("cookies") or []:
        headers += [("Set-Cookie", morsel.OutputString()) for morsel in cookie.values()]
    return Response(int(value["status_code"].value), headers, value["body"].value or b"")


class FunctionHost:
    """Routes requests and runs invocations; the HTTP server and the timers both call into it."""

    def __init__(
        self,
        index: FunctionIndex,
        keys: Keys,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        threads: int | None = None,
    ):
        self.index = index
        self.keys = keys
        self.runners = {t.name: TimerRunner(t, self._invoke_timer, clock) for t in index.timers}
        # the worker's pool of sync invocations: `threads` at once, the rest wait; None: no limit
        self._slots = threading.BoundedSemaphore(threads) if threads else None

    # --- invocations ---
    def _execute(self, name: str, user_function, trigger_arg: str, value, reason: str):
        context = LocalContext(name, user_function)
        log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", name, reason, context.invocation_id)
        started = time.monotonic()
        outcome = "Failed"
        try:
            with self._slots or contextlib.nullcontext():
                result = call(user_function, trigger_arg, value, context)
            outcome = "Succeeded"
            return result
        finally:
            millis = int((time.monotonic() - started) * 1000)
            log.info("Executed 'Functions.%s' (%s, Id=%s, Duration=%dms)", name, outcome, context.invocation_id, millis)

    def _invoke_timer(self, timer: TimerFunction, request, reason: str) -> None:
        try:
            self._execute(timer.name, timer.user_function, timer.trigger_arg, request, reason)
        except Exception:
            log.exception("Function 'Functions.%s' failed; the timer waits for its next occurrence", timer.name)

    # --- HTTP ---
    def dispatch(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, base: str) -> Response:
        parts = urlsplit(target)
        path, query = parts.path, parts.query
        segments = path.strip("/").split("/")
        if segments[0].lower() == "admin":
            return self._admin(method, segments[1:], headers, query)
        if not path.strip("/"):
            return Response(200, [("Content-Type", "text/plain; charset=utf-8")], b"Your Functions app is running.")
        found = self._route(method, path)
        if found is None:
            return Response(404)
        function, route_params = found
        params = _join(parse_qsl(query, keep_blank_values=True))
        if not self.keys.allows(function.auth_level, _presented_key(headers, params)):
            return Response(401)
        request = func.HttpRequest(
            method=method,
            url=base + target,
            headers=_join(headers, lower=True),
            params=params,
            route_params=route_params,
            body=body,
        )
        try:
            result = self._execute(function.name, function.user_function, function.trigger_arg, request, HTTP_REASON)
        except Exception:
            log.exception("Function 'Functions.%s' raised; the host answers 500", function.name)
            return Response(500)
        return render(result)

    def _route(self, method: str, path: str) -> tuple[HttpFunction, dict[str, str]] | None:
        prefix = self.index.route_prefix
        trimmed = path.strip("/")
        if prefix:
            head, _, rest = trimmed.partition("/")
            if head.lower() != prefix.lower():
                return None
            trimmed = rest
        for function in self.index.http:
            if function.methods is not None and method.upper() not in function.methods:
                continue
            route_params = function.route.match(trimmed)
            if route_params is not None:
                return function, route_params
        return None

    def _admin(self, method: str, segments: list[str], headers, query: str) -> Response:
        lowered = [s.lower() for s in segments]
        if lowered == ["host", "ping"]:
            return Response(200)
        params = dict(parse_qsl(query, keep_blank_values=True))
        if not self.keys.allows("admin", _presented_key(headers, params)):
            return Response(401)
        if method == "GET" and lowered == ["host", "status"]:
            return Response.json(200, {"state": "Running", "functions": self.index.names})
        if method == "GET" and lowered == ["functions"]:
            functions: list[HttpFunction | TimerFunction] = [*self.index.http, *self.index.timers]
            return Response.json(200, [self._describe(f) for f in functions])
        if method == "POST" and len(segments) == 2 and lowered[0] == "functions":
            runner = next((r for n, r in self.runners.items() if n.lower() == lowered[1]), None)
            if runner is None:
                return Response(404)
            threading.Thread(target=runner.run_now, args=(HTTP_REASON,), daemon=True).start()
            return Response(202)
        return Response(404)

    def _describe(self, function: HttpFunction | TimerFunction) -> dict:
        if isinstance(function, TimerFunction):
            return {"name": function.name, "trigger": "timerTrigger", "schedule": function.schedule}
        prefix = f"{self.index.route_prefix}/" if self.index.route_prefix else ""
        return {
            "name": function.name,
            "trigger": "httpTrigger",
            "route": function.route.text,
            "invoke_url_template": "/" + prefix + function.route.text.strip("/"),
            "methods": sorted(function.methods) if function.methods else None,
            "authLevel": function.auth_level,
        }


def _presented_key(headers: list[tuple[str, str]], params: dict[str, str]) -> str | None:
    for name, value in headers:
        if name.lower() == "x-functions-key":
            return value
    return params.get("code")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "governor-localhost"
    # TCP_NODELAY: the head and the body go out as two writes, and with Nagle's algorithm the body
    # waited for the client's delayed ACK of the head, about 40 ms on every response with a body
    disable_nagle_algorithm = True
    host: FunctionHost
    server: _Server  # the handler serves only _Server (LocalHost builds both)

    def _handle(self) -> None:
        try:
            body = self._read_body()
        except BadRequest as exc:
            # The body is unread (or read in part): its bytes must not be parsed as the next request.
            self.close_connection = True
            log.info("%s %s refused: %s", self.command, urlsplit(self.path).path, exc.detail)
            self._write(Response.problem(exc.status, exc.detail, urlsplit(self.path).path))
            return
        except OSError:  # the client went away or timed out mid-body: nobody to answer
            self.close_connection = True
            return
        base = f"http://{self.headers.get('Host') or self.server.authority}"
        try:
            response = self.host.dispatch(self.command, self.path, list(self.headers.items()), body, base)
        except Exception:
            log.exception("local host error on %s %s", self.command, urlsplit(self.path).path)
            response = Response(500)
        self._write(response)

    def _line(self, what: str) -> bytes:
        line = self.rfile.readline(MAX_LINE_BYTES + 1)
        if len(line) > MAX_LINE_BYTES:
            raise BadRequest(400, f"{what} line too long")
        if not line.endswith(b"\n"):
            raise BadRequest(400, f"the body ended inside a {what} line")
        return line.rstrip(b"\r\n")

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_text = self._line("chunk size").split(b";")[0].strip(b" \t")
            if not _CHUNK_SIZE.fullmatch(size_text):
                raise BadRequest(400, "malformed chunked body: a chunk size must be hexadecimal digits")
            size = int(size_text, 16)
            if size == 0:
                for _ in range(MAX_TRAILERS + 1):
                    if not self._line("trailer"):
                        return b"".join(chunks)
                raise BadRequest(400, "malformed chunked body: too many trailer lines")
            total += size
            if total > MAX_REQUEST_BYTES:
                raise BadRequest(413, f"the body is larger than {MAX_REQUEST_BYTES} bytes")
            chunk = self.rfile.read(size)
            if len(chunk) != size:
                raise BadRequest(400, "malformed chunked body: the body ended inside a chunk")
            chunks.append(chunk)
            if self._line("chunk end"):
                raise BadRequest(400, "malformed chunked body: a chunk is longer than its size")

    def _read_body(self) -> bytes:
        encoding = (self.headers.get("Transfer-Encoding") or "").strip().lower()
        if encoding:
            if encoding != "chunked":
                raise BadRequest(400, "the only transfer coding this host reads is chunked")
            if self.headers.get("Content-Length") is not None:
                raise BadRequest(400, "Content-Length and Transfer-Encoding must not both be sent")
            return self._read_chunked()
        lengths = self.headers.get_all("Content-Length") or []
        text = lengths[0].strip() if len(lengths) == 1 else ""
        if lengths and not (text.isascii() and text.isdigit()):
            raise BadRequest(400, "Content-Length must be one number")
        length = int(text or 0)
        if length > MAX_REQUEST_BYTES:
            raise BadRequest(413, f"the body is larger than {MAX_REQUEST_BYTES} bytes")
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            raise BadRequest(400, "the body ended before its Content-Length")
        return body

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        names = {name.lower() for name, _ in response.headers}
        for name, value in response.headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        if "date" not in names:
            self.send_header("Date", self.date_time_string())
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a bad request line, 414, 431 headers too large, 505) as
        problem+json, not its HTML page; the connection is closed (the rest of the request is unread)."""
        self.close_connection = True
        self.command = getattr(self, "command", None) or ""
        self.path = getattr(self, "path", None) or ""  # unset when the request line itself was refused
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":  # a refused request line: answer in 1.1
            self.request_version = "HTTP/1.1"
        detail = message or HTTPStatus(code).phrase
        if code == HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE:
            detail = f"request header fields too large ({detail})"
        with contextlib.suppress(OSError):  # the client may be gone already
            self._write(Response.problem(code, detail, urlsplit(self.path).path or None))

    def send_response(self, code: int, message: str | None = None) -> None:
        # Like send_response, minus the Server/Date headers it adds (we add Date once).
        self.log_request(code)
        self.send_response_only(code, message)

    def log_request(self, code="-", size="-") -> None:
        # The path only: the query may carry a function key (`code=`).
        log.info("%s %s -> %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format, *args) -> None:
        log.debug("http: " + format, *args)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def __getattr__(self, name: str):
        # Any other method (TRACE, a lowercase `get`) is routed too: the Functions host answers 404
        # for a method no function accepts, where http.server would answer 501.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = socket.SOMAXCONN  # http.server's default backlog of 5 made bursts of connections fail

    @property
    def authority(self) -> str:
        """host:port as bound."""
        host, port = self.server_address[:2]
        assert isinstance(host, str)  # bound to a str host: AF_INET/AF_INET6 sockets name it as str
        return f"{host}:{port}"


class LocalHost:
    """The HTTP server plus the timers. `start()` returns once the socket listens."""

    def __init__(
        self,
        index: FunctionIndex,
        keys: Keys,
        host: str = "127.0.0.1",
        port: int = 7071,
        clock=None,
        threads: int | None = None,
    ):
        if clock:
            self.functions = FunctionHost(index, keys, clock, threads=threads)
        else:
            self.functions = FunctionHost(index, keys, threads=threads)
        handler = type("Handler", (_Handler,), {"host": self.functions})
        self._server = _Server((host, port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="localhost-http", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self._server.authority}"

    def start(self) -> LocalHost:
        self._thread.start()
        for runner in self.functions.runners.values():
            runner.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        for runner in self.functions.runners.values():
            runner.request_stop()
        if self._thread.is_alive():  # shutdown() waits for serve_forever(), forever if it never ran
            self._server.shutdown()
        self._server.server_close()
        for runner in self.functions.runners.values():
            runner.stop(timeout)

    def __enter__(self) -> LocalHost:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
