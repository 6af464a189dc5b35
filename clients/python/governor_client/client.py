"""GovernorClient: the gate's client routes for one project, one call per method."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable
from datetime import timedelta
from urllib.parse import quote, urlsplit

import requests

from governor_client.bundle import ConnectBundle
from governor_client.errors import GovernorError, ReadyTimeout, SessionEnded
from governor_client.retry import RetryPolicy
from governor_client.transport import Transport

# ARR throttles reads closer than a few seconds, and the gate serves a cached read for 5 s anyway.
MIN_POLL_SECONDS = 5.0
DEFAULT_READY_TIMEOUT = 600.0  # ARR takes minutes to start a VM
ENDED_STATUSES = frozenset({"Stopped", "Expired", "Error"})

Lease = int | str | timedelta


class GovernorClient:
    """The gate of one project, authorised by a caller key (sent as `X-Api-Key`, never shown).

    `base_url` is the API root, `https://<app>.azurewebsites.net/api` (or the `base URL` that
    `make run` prints); `function_key` is the platform's key (`x-functions-key`) where the
    deployment asks for one.
    """

    def __init__(
        self,
        base_url: str,
        key: str,
        project: str,
        *,
        function_key: str | None = None,
        timeout: float = 30.0,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
    ):
        if not key:
            raise ValueError("a caller key is required")
        if not timeout > 0:
            raise ValueError(f"timeout must be more than 0 seconds, not {timeout!r}")
        self.base_url = _checked_url(base_url)
        self.project = project
        self._transport = Transport(
            self.base_url,
            key,
            function_key=function_key,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            http=session,
        )

    def __repr__(self) -> str:
        return f"GovernorClient({self.base_url!r}, project={self.project!r})"

    @property
    def timeout(self) -> float:
        return self._transport.timeout

    # ------------------------------------------------------------ the whole life of a session
    def session(
        self,
        size: str,
        lease: Lease,
        idempotency_key: str | None = None,
        models: Iterable[str] | None = None,
        *,
        regions: Iterable[str] | None = None,
        auto_retry: bool = False,
        ready_timeout: float = DEFAULT_READY_TIMEOUT,
        heartbeat_seconds: float | None = None,
        auto_extend: bool = True,
    ):
        """A session for a `with` block: requested and Ready on entry, heartbeated (and extended
        when the gate suggests it) while the block runs, stopped on exit, whatever the exit.
        `regions` and `auto_retry` are the request's (see `request`)."""
        from governor_client.session import LeasedSession

        return LeasedSession(
            self,
            size,
            lease,
            idempotency_key=idempotency_key or new_idempotency_key(),
            models=models,
            regions=regions,
            auto_retry=auto_retry,
            ready_timeout=ready_timeout,
            heartbeat_seconds=heartbeat_seconds,
            auto_extend=auto_extend,
        )

    # ------------------------------------------------------------ one route each
    def request(
        self,
        size: str,
        lease: Lease,
        *,
        idempotency_key: str | None = None,
        models: Iterable[str] | None = None,
        regions: Iterable[str] | None = None,
        auto_retry: bool = False,
    ) -> dict:
        """POST a session request; the 202 answer (status `Starting`, `sessionId`, `account`, reserved cost).

        Retries send the same Idempotency-Key, so they never start (or pay for) a second session;
        pass your own key to make your retries of this call safe too.

        `regions`: the accounts of the project's placement to use, in the order to try them (e.g.
        nearest first); `auto_retry`: when ARR has no server for the session, the governor starts
        the next attempt itself, and the id in this answer leads to it. Both are sent only when
        given (`regions` and `autoRetry`), so a governor without placement sees the same request."""
        body: dict = {"size": size, "maxLeaseTime": lease_value(lease)}
        if models is not None:
            body["models"] = list(models)
        if regions is not None:
            body["regions"] = regions_value(regions)
        if auto_retry:
            body["autoRetry"] = True
        headers = {"Idempotency-Key": idempotency_key or new_idempotency_key()}
        return self._transport.call("POST", self._path(), body=body, headers=headers).body

    def get(self, session_id: str) -> dict:
        return self._transport.call("GET", self._path(session_id)).body

    def heartbeat(self, session_id: str, *, cancel: threading.Event | None = None) -> dict:
        """The session view plus `extension`: {wouldGrant, suggest, leaseMinutes, extraCost, ...}."""
        return self._transport.call("POST", self._path(session_id, "heartbeat"), wait=_waiter(cancel)).body

    def extend(self, session_id: str, minutes: int | None = None, *, cancel: threading.Event | None = None) -> dict:
        """PATCH the lease: one extension step, or `minutes` in all since the start (repeatable:
        a lease that already covers them is `409 extension-denied` with `limit: lease-covers`)."""
        body = None if minutes is None else {"maxLeaseTime": minutes}
        return self._transport.call("PATCH", self._path(session_id), body=body, wait=_waiter(cancel)).body

    def stop(self, session_id: str) -> dict:
        """DELETE the session; idempotent, the answer is the closed session."""
        return self._transport.call("DELETE", self._path(session_id)).body

    def connect(self, session_id: str, *, ready_timeout: float = DEFAULT_READY_TIMEOUT) -> ConnectBundle:
        """What the app's ARR runtime needs to connect; waits while the session is still starting."""
        deadline = time.monotonic() + ready_timeout
        while True:
            try:
                answer = self._transport.call("POST", self._path(session_id, "connect"))
            except GovernorError as error:
                if error.reason == "session-ended":
                    raise _ended(session_id, error) from None
                if error.reason != "not-ready":
                    raise
                pause = max(MIN_POLL_SECONDS, error.retry_after or 0)
                if time.monotonic() + pause > deadline:
                    raise ReadyTimeout(session_id, ready_timeout, "Starting") from error
                time.sleep(pause)
            else:
                return ConnectBundle.from_answer(answer.body)

    def wait_ready(self, session_id: str, *, timeout: float = DEFAULT_READY_TIMEOUT, view: dict | None = None) -> dict:
        """Poll the session until it is Ready (then its view, with hostname and ports).

        Never faster than every 5 s, later when the answer carries Retry-After; `view` is an answer
        already in hand (the request's), counted as the first look."""
        started = time.monotonic()
        pause = MIN_POLL_SECONDS
        if view is None:
            answer = self._transport.call("GET", self._path(session_id))
            view, pause = answer.body, max(MIN_POLL_SECONDS, answer.retry_after or 0)
        while True:
            status = view.get("status")
            if status == "Ready":
                return view
            if status in ENDED_STATUSES or view.get("state") == "closed":
                raise SessionEnded(session_id, status)
            if time.monotonic() - started + pause > timeout:
                raise ReadyTimeout(session_id, time.monotonic() - started, status)
            time.sleep(pause)
            answer = self._transport.call("GET", self._path(session_id))
            view, pause = answer.body, max(MIN_POLL_SECONDS, answer.retry_after or 0)

    def _path(self, session_id: str | None = None, action: str | None = None) -> str:
        path = f"/projects/{quote(self.project, safe='')}/sessions"
        if session_id is not None:
            path += f"/{quote(session_id, safe='')}"
        if action is not None:
            path += f"/{action}"
        return path


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def lease_value(lease: Lease) -> int | str:
    """The request's `maxLeaseTime`: whole minutes, or a .NET TimeSpan string as given."""
    if isinstance(lease, bool):
        raise TypeError("a lease is minutes, a TimeSpan string or a timedelta")
    if isinstance(lease, timedelta):
        minutes, rest = divmod(lease, timedelta(minutes=1))
        if rest:
            raise ValueError("a lease is whole minutes")
        return minutes
    if isinstance(lease, int | str):
        return lease
    raise TypeError("a lease is minutes, a TimeSpan string or a timedelta")


def regions_value(regions: Iterable[str]) -> list[str]:
    """The request's `regions`: account names in the order to try them."""
    if isinstance(regions, str):
        raise TypeError("regions is a list of account names, not one string")
    return list(regions)


def _waiter(cancel: threading.Event | None):
    return time.sleep if cancel is None else cancel.wait


def _ended(session_id: str, error: GovernorError) -> SessionEnded:
    session_status = error.problem.get("sessionStatus") or "ended"
    return SessionEnded(session_id, session_status, error.detail, error.status, error.problem)


def _checked_url(base_url: str) -> str:
    """The gate's base URL without its trailing slash; a ValueError when requests could not send to it
    (no scheme, no host, a broken IPv6 address or port), rather than on the first call. The message
    does not echo the URL: a mistyped one may carry a key (?code=, user:password@)."""
    error = ValueError("url must be an http(s) URL such as https://<app>.azurewebsites.net/api")
    try:
        parts = urlsplit(base_url)
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise error from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise error
    return base_url.rstrip("/")
