"""ArrClient: one ARR account, either API generation, behind governor.service.ports.ArrPort."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from governor import telemetry
from governor.arr import transport, wire_2021, wire_v1
from governor.arr.accounts import ArrAccount
from governor.arr.connect import ConnectTokens
from governor.arr.credentials import AccountKeyCredential, Credential, EntraCredential, StaticToken, TokenProvider
from governor.arr.errors import (
    ArrAuthError,
    ArrBadResponse,
    ArrConflict,
    ArrError,
    ArrRequestError,
    ArrUnavailable,
    error_for_status,
)
from governor.arr.wire import Request, error_details
from governor.core.model import ConnectTarget, ConnectToken, Session, SessionStatus, VmSize, utcnow

log = logging.getLogger("governor.arr")

STS_API_VERSION = "2019-02-28-preview"
USER_AGENT = "arr-lease-governor/0.1"
MAX_PAGES = 1000


@dataclass
class Attempts:
    """Each request the client puts on the wire is an HTTP client span of its own (OpenTelemetry's
    HTTP conventions: a span per request sent, `http.request.resend_count` on every resend), made by
    the session's connection pools (`TracedAdapter`) within `_sending`; the span of the whole ARR
    operation is their parent. This is what the client is sending, for the span of each attempt: its
    name, attributes (method, URL with its query redacted, server, the ARR operation) and how many
    were sent so far."""

    name: str
    attributes: dict
    sent: int = 0


_SENDING: contextvars.ContextVar[Attempts | None] = contextvars.ContextVar("arr_sending", default=None)


@contextlib.contextmanager
def _sending(attempts: Attempts | None) -> Iterator[Attempts | None]:
    """Within the block, every request this module's pools put on the wire is a span of `attempts`
    (None: none); a count that goes on across blocks (a resend after a 401) when the same
    `attempts` is passed."""
    token = _SENDING.set(attempts)
    try:
        yield attempts
    finally:
        _SENDING.reset(token)


def _attempt(pool_make_request, pool, conn, method, url, *args, **kwargs):
    attempts = _SENDING.get()
    if attempts is None:
        return pool_make_request(pool, conn, method, url, *args, **kwargs)
    resent, attempts.sent = attempts.sent, attempts.sent + 1
    attributes = {**attempts.attributes, "http.request.resend_count": resent or None}
    with telemetry.span(attempts.name, **attributes) as span:
        response = pool_make_request(pool, conn, method, url, *args, **kwargs)
        span.set("http.response.status_code", response.status)
        span.set("arr.ms_cv", response.headers.get("MS-CV"))
        if response.status >= 400:
            span.set("error.type", str(response.status))
        return response


class _TracedHTTPPool(HTTPConnectionPool):
    def _make_request(self, conn, method, url, *args, **kwargs):  # type: ignore[override]
        return _attempt(HTTPConnectionPool._make_request, self, conn, method, url, *args, **kwargs)


class _TracedHTTPSPool(HTTPSConnectionPool):
    def _make_request(self, conn, method, url, *args, **kwargs):  # type: ignore[override]
        return _attempt(HTTPSConnectionPool._make_request, self, conn, method, url, *args, **kwargs)


class TracedAdapter(HTTPAdapter):
    """An HTTPAdapter whose connection pools make a span of each attempt (`sending`)."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _TracedHTTPPool, "https": _TracedHTTPSPool}


class ArrClient:
    """Implements ArrPort for one configured account. Thread-safe; reuse one per account."""

    def __init__(
        self,
        config: ArrAccount,
        *,
        token_credential: Any | None = None,
        clock: Callable[[], datetime] = utcnow,
        in_azure: bool | None = None,
    ):
        self._transport = transport
        self.config = config
        self.account = config.name
        self._wire = wire_v1 if config.api_version == "v1" else wire_2021
        self.ids_are_ours = self._wire is wire_2021
        cautious = (config.service_endpoint + wire_v1.create_path(config.account_id),)
        self._http = transport.build_session(config.retry_total_seconds, cautious, adapter=TracedAdapter)
        self._timeout = (config.timeout_seconds, config.timeout_seconds)
        credential: Credential
        if config.auth == "token":
            assert config.access_token is not None  # make_account refuses auth=token without a token
            credential = StaticToken(config.access_token)
        elif config.auth == "entra":
            credential = EntraCredential(token_credential, in_azure, config.identity)
        else:
            assert config.account_key is not None  # make_account refuses auth=key without a key
            credential = AccountKeyCredential(config.account_id, config.account_key)
        self._tokens = TokenProvider(credential, self._exchange, clock)
        self.connect_target = ConnectTarget(
            account_id=config.account_id,
            account_domain=config.account_domain,
            remote_rendering_domain=config.remote_rendering_domain,
            auth=config.connect_auth,
            can_start_sessions=config.connect_auth == "key",
        )
        self._connect = self._connect_tokens(config, in_azure, clock)
        self._probe_http = None
        self._probe_lock = threading.Lock()
        self._probing = threading.local()  # the probe's deadline, seen by _send in the probing thread
        self._sent = threading.local()  # attempts ARR answered before the last response, per thread

    def __repr__(self) -> str:
        c = self.config
        return f"ArrClient(account={c.name!r}, endpoint={c.service_endpoint!r}, api_version={c.api_version!r})"

    def _connect_tokens(self, config: ArrAccount, in_azure: bool | None, clock) -> ConnectTokens | None:
        credential: AccountKeyCredential | EntraCredential
        if config.connect_auth == "key":
            assert config.account_key is not None  # resolve_connect refuses connectAuth=key without a key
            credential = AccountKeyCredential(config.account_id, config.account_key)
        elif config.connect_auth == "entra":
            credential = EntraCredential(None, in_azure, config.connect_identity)
        else:
            return None
        return ConnectTokens(credential.sts_bearer, self._exchange, clock)

    def connect_token(self, lease_left: timedelta) -> ConnectToken | None:
        """A token for client apps of this account (None when it hands out none), valid at least
        `lease_left` plus a margin when STS allows; never the governor's own token."""
        if self._connect is None:
            return None
        return self._connect.token(lease_left)

    def close(self) -> None:
        self._http.close()
        if self._probe_http is not None:
            self._probe_http.close()

    def __enter__(self) -> ArrClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ ArrPort
    def create(
        self, size: VmSize, lease: timedelta, models: Sequence[str] = (), session_id: str | None = None
    ) -> Session:
        """2021-01-01: PUT `session_id` (a new uuid4 if None); idempotent, so retried safely.
        v1: POST, the server picks the id; `session_id` is ignored."""
        account_id = self.config.account_id
        if self._wire is wire_2021:
            request = wire_2021.create(account_id, session_id or str(uuid.uuid4()), size, lease, models)
            body, ms_cv = self._call("create", request)
            return wire_2021.session(body, self.account, "create", ms_cv)
        self._sent.answered = 0
        body, ms_cv = self._call("create", wire_v1.create(account_id, size, lease, models))
        self._sent.create_repeated = self._sent.answered > 0
        new_id = wire_v1.created_id(body, "create", ms_cv)
        try:
            return self.get(new_id)
        except ArrError as exc:
            # The session exists: never lose its id because the follow-up read failed.
            log.warning("ARR create: session %s made, reading it failed: %s", new_id, exc)
            return Session(new_id, self.account, SessionStatus.STARTING, VmSize.parse(size), timedelta(0), lease)

    def create_repeated(self) -> bool:
        """Did this thread's last v1 create succeed only on a retry, after ARR had answered an
        earlier attempt (a 429 or 503 that should mean "not done")? Then that attempt may have
        made a session too: the caller must look for it (the gate leaves a claim)."""
        return getattr(self._sent, "create_repeated", False)

    def get(self, session_id: str) -> Session:
        body, ms_cv = self._call("get", self._wire.get(self.config.account_id, session_id))
        return self._wire.session(body, self.account, "get", ms_cv)

    def list(self) -> list[Session]:
        """Active (Starting/Ready) sessions of every page, following `@nextLink`."""
        request = self._wire.list_(self.config.account_id)
        url: str | None = None
        seen: set[str] = set()
        found: list[Session] = []
        for _ in range(MAX_PAGES):
            body, ms_cv = self._call("list", request, url)
            sessions, next_link = self._wire.page(body, self.account, "list", ms_cv)
            found.extend(s for s in sessions if s.status.active)
            if not next_link:
                return found
            url = self._next_url(next_link, ms_cv)
            if url in seen:
                raise ArrBadResponse("@nextLink repeats an earlier page", operation="list", ms_cv=ms_cv)
            seen.add(url)
        raise ArrBadResponse(f"more than {MAX_PAGES} pages of sessions", operation="list")

    def probe(self, timeout: float = 3.0) -> None:
        """Does ARR answer? One list request (first page only, and a token exchange if none is
        cached), each sent once without retries, all within about `timeout` seconds. Raises the
        same typed errors as `list()`; a 429 or 5xx is an ArrThrottled/ArrUnavailable at once."""
        with self._probe_lock:
            if self._probe_http is None:
                self._probe_http = self._transport.single_attempt_session(TracedAdapter)
        self._probing.deadline = time.monotonic() + timeout
        try:
            body, ms_cv = self._call("probe", self._wire.list_(self.config.account_id))
            self._wire.page(body, self.account, "probe", ms_cv)
        finally:
            self._probing.deadline = None

    def update_lease(self, session_id: str, lease: timedelta) -> Session:
        """Set the total lease since start to `lease` (absolute, never a delta). The 2021 API
        takes whole minutes: `lease` is rounded up so the grant is never shortened."""
        request = self._wire.update(self.config.account_id, session_id, lease)
        try:
            body, ms_cv = self._call("update", request)
        except (ArrRequestError, ArrConflict) as exc:
            if exc.status is None:
                raise
            # A retried PATCH whose first attempt landed is refused as "not larger": that is success.
            current = self.get(session_id)
            if current.max_lease == self._wire_lease(lease):
                return current
            raise exc from None
        if self._wire is wire_v1:
            return self.get(session_id)  # v1 PATCH answers with an empty body
        return wire_2021.session(body, self.account, "update", ms_cv)

    def stop(self, session_id: str) -> None:
        self._call("stop", self._wire.stop(self.config.account_id, session_id))

    # ------------------------------------------------------------------ internals
    def _wire_lease(self, lease: timedelta) -> timedelta:
        if self._wire is wire_2021:
            return timedelta(minutes=wire_2021.lease_minutes(lease))
        return lease

    def _next_url(self, link: str, ms_cv: str | None) -> str:
        base = self.config.service_endpoint
        url = urljoin(base + "/", link)
        here, there = urlsplit(base), urlsplit(url)
        if (here.scheme, here.netloc) != (there.scheme, there.netloc):
            # Following it would hand our bearer token to another host.
            raise ArrBadResponse("@nextLink points to another host", operation="list", ms_cv=ms_cv)
        return url

    def _call(self, operation: str, request: Request, url: str | None = None) -> tuple[Any, str | None]:
        """Send with a valid token; on 401, refresh the token once and resend."""
        if url is None:
            url, params = self.config.service_endpoint + request.path, request.params
        else:
            query = urlsplit(url).query
            params = {k: v for k, v in request.params.items() if f"{k}=" not in query}
        attempts = self._attempts(operation, request.method, url, params)
        with self._operation(operation) as span:
            for attempt in (1, 2):
                token = self._tokens.token()
                response = self._send(
                    span, attempts, operation, request.method, url, params, request.body, token, request.idempotent
                )
                if response.status_code == 401 and attempt == 1 and self._tokens.refreshable:
                    log.info("ARR %s: 401, refreshing the access token once", operation)
                    self._tokens.invalidate(token)
                    continue
                _answered(span, response)
                return self._result(operation, response)
        raise AssertionError("unreachable")

    def _operation(self, operation: str):
        """The span of one ARR operation (`ARR create`, `ARR list`...), internal: what was asked of
        which account, ARR's MS-CV and, when it failed, `error.type`. Each request it puts on the
        wire (urllib3's retries and a resend after a 401 included) is an HTTP client span beneath it,
        `_attempts`; HTTP instrumentation inside it would only report them a second time."""
        attributes = {"arr.operation": operation, "arr.account": self.account, telemetry.OWN_HTTP: True}
        return telemetry.span(f"ARR {operation}", **attributes)

    def _attempts(self, operation: str, method: str, url: str, params: dict | None) -> Attempts | None:
        """What each attempt's span says, OpenTelemetry's HTTP client conventions: named
        `{method} {url.template}`, with the method, the URL (no query value but the API version),
        the server, and the ARR operation and account to find it by. None with telemetry off."""
        if not telemetry.enabled():
            return None
        template = _url_template(urlsplit(url).path, self.config.account_id)
        attributes = {
            **_http_attributes(method, url, params),
            "url.template": template,
            "arr.operation": operation,
            "arr.account": self.account,
        }
        return Attempts(f"{method} {template}" if template else method, attributes)

    def _send(self, span, attempts: Attempts | None, operation, method, url, params, body, bearer, idempotent):
        """One send (urllib3's retries included), each attempt a span of `attempts`; when no answer
        came, `error.type` on the operation's span: the error's class, or `timeout`."""
        with _sending(attempts):
            try:
                return self._send_once(operation, method, url, params, body, bearer, idempotent)
            except ArrUnavailable as exc:  # raised from the requests error (its __context__), or a deadline
                cause = exc.__context__
                span.set("error.type", "timeout" if cause is None else _qualified(type(cause)))
                raise

    def _send_once(self, operation, method, url, params, body, bearer, idempotent):
        headers = {
            "Authorization": f"Bearer {bearer}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "x-ms-client-request-id": str(uuid.uuid4()),
        }
        http, timeout = self._http, self._timeout
        deadline = getattr(self._probing, "deadline", None)
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ArrUnavailable(
                    f"no answer within the probe's time from {urlsplit(url).netloc}", operation=operation
                )
            http, timeout = self._probe_http, (left, left)
        try:
            response = http.request(
                method, url, params=params, json=body, headers=headers, timeout=timeout, allow_redirects=False
            )
        except self._transport.requests.RequestException as exc:
            unsent = self._transport.sent_nothing(exc)
            kind = "timed out" if self._transport.timed_out(exc) else "connection failed"
            message = f"{kind} ({type(exc).__name__}) talking to {urlsplit(url).netloc}"
            if not idempotent and not unsent:
                message += "; the request may have been processed"
            raise ArrUnavailable(message, operation=operation, indeterminate=not unsent) from None
        history = getattr(getattr(response.raw, "retries", None), "history", ()) or ()
        self._sent.answered = sum(1 for attempt in history if attempt.status is not None)
        log.debug(
            "ARR %s %s %s -> %s (MS-CV %s, request id %s)",
            operation,
            method,
            urlsplit(url).path,
            response.status_code,
            response.headers.get("MS-CV"),
            headers["x-ms-client-request-id"],
        )
        return response

    def _result(self, operation: str, response) -> tuple[Any, str | None]:
        ms_cv = response.headers.get("MS-CV")
        status = response.status_code
        body = None
        if response.content:
            try:
                body = response.json()
            except ValueError:
                if 200 <= status < 300:
                    raise ArrBadResponse(
                        f"HTTP {status} with a body that is not JSON", status=status, operation=operation, ms_cv=ms_cv
                    ) from None
        if 200 <= status < 300:
            return body, ms_cv
        code, message = error_details(body)
        kind = error_for_status(status) if status >= 400 else ArrBadResponse
        raise kind(
            message or response.reason or f"HTTP {status}",
            status=status,
            code=code,
            ms_cv=ms_cv,
            operation=operation,
            retry_after=_retry_after(response),
        )

    def _exchange(self, sts_bearer: str) -> str:
        """Account key or Entra token -> ARR access token, at the token service."""
        url = f"{self.config.sts_endpoint}/accounts/{self.config.account_id}/token"
        params = {"api-version": STS_API_VERSION}
        with self._operation("token") as span:
            attempts = self._attempts("token", "GET", url, params)
            response = self._send(span, attempts, "token", "GET", url, params, None, sts_bearer, True)
            _answered(span, response)
        if response.status_code in (401, 403):
            raise ArrAuthError(
                "the token service refused the account credentials",
                status=response.status_code,
                ms_cv=response.headers.get("MS-CV"),
                operation="token",
            )
        body, ms_cv = self._result("token", response)
        token = body.get("AccessToken") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ArrBadResponse("token response has no AccessToken", operation="token", ms_cv=ms_cv)
        return token


# Query parameters whose value may be shown; any other value is REDACTED (continuation tokens and
# whatever an endpoint may add): OpenTelemetry's url.full carries no secret.
SHOWN_QUERY = frozenset({"api-version"})


def _http_attributes(method: str, url: str, params: dict | None) -> dict:
    """OpenTelemetry's HTTP client attributes of a request to `url` with `params`: the method, the
    full URL without user info and with every query value but the API version redacted, the
    scheme (Azure Monitor leaves a default port out of the dependency's target by it), the server
    address and port."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *(params or {}).items()]
    shown = urlencode([(k, v if k in SHOWN_QUERY else "REDACTED") for k, v in query])
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return {
        "kind": "client",
        "http.request.method": method,
        "url.full": urlunsplit((parts.scheme, netloc, parts.path, shown, "")),
        "url.scheme": parts.scheme,
        "server.address": host,
        "server.port": parts.port or telemetry.DEFAULT_PORTS.get(parts.scheme),
    }


def _url_template(path: str, account_id: str) -> str | None:
    """url.template of an ARR or token service path: the account id and a session id as
    `{accountId}` and `{sessionId}` (`/accounts/{accountId}/sessions/{sessionId}/:stop`), so that
    the span's name stays low in cardinality; None for a path of another shape."""
    parts = path.split("/")
    if "accounts" not in parts:
        return None
    out = []
    for index, part in enumerate(parts):
        before = parts[index - 1] if index else ""
        if before == "accounts" and part == account_id:
            out.append("{accountId}")
        elif before == "sessions" and part and part != "create" and not part.startswith(":"):
            out.append("{sessionId}")
        else:
            out.append(part)
    template = "/".join(out)
    return template if "{accountId}" in template else None


def _answered(span, response) -> None:
    """The operation's outcome on its span: ARR's MS-CV, and `error.type` (the status) for a 4xx/5xx."""
    span.set("arr.ms_cv", response.headers.get("MS-CV"))
    if response.status_code >= 400:
        span.set("error.type", str(response.status_code))


def _qualified(kind: type) -> str:
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _retry_after(response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
