"""The HTTP(S) server: one ThreadingHTTPServer, routing, headers, faults, body limits."""

from __future__ import annotations

import base64
import os
import socket
import ssl
import sys
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from governor.emulator import (
    MAX_BODY_BYTES,
    routes_2021,
    routes_admin,
    routes_connect,
    routes_directory,
    routes_entra,
    routes_sts,
    routes_v1,
)
from governor.emulator.app import Emulator
from governor.emulator.errors import ApiError
from governor.emulator.messages import (
    SUPPORTED_VERSIONS_HEADER,
    Request,
    Response,
    error_body,
    match,
    parse_query,
    split_path,
)

ROUTES = [
    (split_path(pattern), pattern, generation, methods)
    for module in (routes_admin, routes_directory, routes_connect, routes_sts, routes_v1, routes_2021, routes_entra)
    for pattern, generation, methods in module.ROUTES
]
FAULT_CODES = {
    429: ("TooManyRequests", "Too many requests. Retry after the time given in Retry-After."),
    500: ("InternalServerError", "An internal server error occurred."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
}
# The spec's examples give the 2021-01-01 API's 401, 403, 404 and 429 no body (its other errors carry
# `{"error": ...}`); the v1 API, the token service and the emulator's own routes keep the error body.
BODILESS_2021 = frozenset({401, 403, 404, 429})
IDLE_TIMEOUT_SECONDS = 120
# Neither faulted nor counted as ARR requests: the admin routes, the Entra stand-in (not ARR) and
# the connect stand-in (not ARR's protocol).
UNMETERED = frozenset({"admin", "entra", "standin"})


def ms_cv() -> str:
    return base64.b64encode(os.urandom(16)).decode()[:22] + ".0"


def resolve(method: str, segments: list[str]):
    """(route pattern, generation, handler, params) or raise 404/405."""
    allowed: list[str] = []
    for pattern, template, generation, methods in ROUTES:
        params = match(pattern, segments)
        if params is None:
            continue
        handler = methods.get(method)
        if handler is not None:
            return template, generation, handler, params
        allowed.extend(methods)
    if allowed:
        raise ApiError(
            405, "MethodNotAllowed", f"The method {method} is not allowed here.", {"Allow": ", ".join(allowed)}
        )
    raise ApiError(404, "NotFound", "No resource exists at this path.")


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = socket.SOMAXCONN  # http.server's default backlog of 5 made bursts of connections fail

    def __init__(self, address, emulator: Emulator, ssl_context: ssl.SSLContext | None = None, log_requests=False):
        super().__init__(address, Handler)
        self.emulator = emulator
        self.ssl_context = ssl_context
        self.log_requests = log_requests

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        assert isinstance(host, str)  # bound to a str host: AF_INET/AF_INET6 sockets name it as str
        return f"{'https' if self.ssl_context else 'http'}://{host}:{port}"

    def handle_error(self, request, client_address):
        # TLS handshakes that fail and clients that hang up are routine, not emulator bugs.
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError | ssl.SSLError | TimeoutError):
            traceback.print_exc(file=sys.stderr)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_SECONDS
    # One buffered write per response (flushed by http.server after each request), no Nagle:
    # separate header and body segments would meet the client's delayed ACK (~40 ms a call).
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: EmulatorServer

    def send_response(self, code, message=None):
        # http.server's own adds a Server header; the service's recorded answers carry none.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def setup(self):
        if self.server.ssl_context is not None:
            self.request.settimeout(self.timeout)
            self.request = self.server.ssl_context.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_message(self, format, *args):
        if self.server.log_requests:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def send_error(self, code, message=None, explain=None):
        # http.server's own errors (bad request line, oversized headers) in our JSON shape.
        self.close_connection = True
        self.request_version = "HTTP/1.1"  # http.server would otherwise answer a garbled line without a status line
        try:
            name = HTTPStatus(code).phrase.title().replace(" ", "").replace("-", "")
        except ValueError:
            name = f"Status{code}"
        self._send(Response.json(code, error_body(name, message or name)), None)

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def __getattr__(self, name: str):
        # Any other method (TRACE, a lowercase `get`) is routed too: ARR's front end answers 405
        # with Allow on a path it knows and 404 elsewhere, where http.server would answer 501.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _dispatch(self):
        emu = self.server.emulator
        parts = urlsplit(self.path)
        segments = split_path(parts.path)
        generation = "2021"
        routed = False  # a path no route knows is the emulator's 404, not the API's
        response: Response | None = None
        try:
            body = self._read_body()
            template, generation, handler, params = resolve(self.command, segments)
            routed = True
            admin = generation in UNMETERED
            step = None
            if not admin:
                emu.count(f"{self.command} {template}")
                step = emu.faults.plan(parts.path, self.command)
                response = self._apply(emu, step, "before")
            if response is None:
                request = Request(
                    self.command, parts.path, parse_query(parts.query), self._headers(), body, self._base_url(), params
                )
                response = handler(emu, request)
                if not admin:
                    response = self._apply(emu, step, "after") or response
        except ApiError as exc:
            response = self._error(exc)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            response = Response.json(500, error_body("InternalServerError", "An internal server error occurred."))
        if routed and generation == "2021" and response.status in BODILESS_2021:
            response = Response(response.status, b"", response.headers)
        self._send(response, generation)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            raise ApiError(411, "LengthRequired", "Send the body with a Content-Length header.")
        length_text = self.headers.get("Content-Length") or "0"
        if not (length_text.isascii() and length_text.isdigit()):
            self.close_connection = True
            raise ApiError(400, "BadRequest", "The Content-Length header is not valid.")
        # past the limit by its digits alone: int() refuses more than 4,300 of them
        length = int(length_text) if len(length_text.lstrip("0")) <= len(str(MAX_BODY_BYTES)) else MAX_BODY_BYTES + 1
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the body stays unread
            raise ApiError(413, "PayloadTooLarge", f"The request body exceeds {MAX_BODY_BYTES} bytes.")
        return self.rfile.read(length) if length else b""

    @staticmethod
    def _apply(emu: Emulator, step, phase: str) -> Response | None:
        """The step's latency and fault at its phase: before the request acts, or after it did."""
        if step is None or step.phase != phase:
            return None
        emu.count_fault(f"{step.status or 'latency'} {phase}")
        if step.latency_ms:
            time.sleep(step.latency_ms / 1000)
        if step.status is None:
            return None
        code, message = FAULT_CODES.get(step.status, (f"Status{step.status}", "An injected fault."))
        headers = {"Retry-After": str(emu.faults.retry_after)} if step.status in (429, 503) else {}
        return Response.json(step.status, error_body(code, message), headers)

    def _headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items()}

    def _base_url(self) -> str:
        scheme = "https" if self.server.ssl_context else "http"
        host = self.headers.get("Host") or self.server.url.split("://", 1)[1]
        return f"{scheme}://{host}"

    @staticmethod
    def _error(exc: ApiError) -> Response:
        if not exc.body:
            return Response(exc.status, b"", dict(exc.headers))
        return Response.json(exc.status, error_body(exc.code, exc.message), dict(exc.headers))

    def _send(self, response: Response, generation: str | None):
        self.send_response(response.status)
        self.send_header("MS-CV", ms_cv())
        if generation == "2021":
            self.send_header("api-supported-versions", SUPPORTED_VERSIONS_HEADER)
        if generation != "v1":  # the 2019 v1 samples show no X-Content-Type-Options
            self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        if response.status != 204 and response.status >= 200:
            self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and response.status != 204:
            self.wfile.write(response.body)


def make_server(host: str, port: int, emulator: Emulator, tls_cert=None, tls_key=None, log_requests=False):
    context = None
    if tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls_cert, tls_key)
    return EmulatorServer((host, port), emulator, context, log_requests)
