"""The 2021-01-01 API: requests and the normalisation of its session_properties."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from governor.arr.wire import Reader, Request, check_lease, check_session_id, read_page
from governor.core.model import Session, VmSize, ceil_minutes

API_VERSION = "2021-01-01"
_PARAMS = {"api-version": API_VERSION}


def lease_minutes(lease: timedelta) -> int:
    """Whole minutes, rounded up so that rounding never shortens a lease the governor granted."""
    return ceil_minutes(check_lease(lease))


def _sessions(account_id: str) -> str:
    return f"/accounts/{account_id}/sessions"


def create(account_id: str, session_id: str, size: VmSize, lease: timedelta, models: Sequence[str] = ()) -> Request:
    # The 2021-01-01 create body has no models: they are loaded by the client runtime instead.
    body = {"maxLeaseTimeMinutes": lease_minutes(lease), "size": VmSize.parse(size).value}
    return Request("PUT", f"{_sessions(account_id)}/{check_session_id(session_id)}", dict(_PARAMS), body)


def get(account_id: str, session_id: str) -> Request:
    return Request("GET", f"{_sessions(account_id)}/{check_session_id(session_id)}", dict(_PARAMS))


def update(account_id: str, session_id: str, lease: timedelta) -> Request:
    body = {"maxLeaseTimeMinutes": lease_minutes(lease)}
    return Request("PATCH", f"{_sessions(account_id)}/{check_session_id(session_id)}", dict(_PARAMS), body)


def stop(account_id: str, session_id: str) -> Request:
    return Request("POST", f"{_sessions(account_id)}/{check_session_id(session_id)}/:stop", dict(_PARAMS))


def list_(account_id: str) -> Request:
    return Request("GET", _sessions(account_id), dict(_PARAMS))


def session(body: Any, account: str, operation: str, ms_cv: str | None = None) -> Session:
    r = Reader(body, operation, ms_cv)
    error = r.object("error")
    return Session(
        id=r.text("id", required=True),
        account=account,
        status=r.status("status"),
        size=r.size("size", required=True),
        elapsed=timedelta(minutes=r.integer("elapsedTimeMinutes", required=True)),
        max_lease=timedelta(minutes=r.integer("maxLeaseTimeMinutes", required=True)),
        hostname=r.text("hostname"),
        arr_inspector_port=r.integer("arrInspectorPort"),
        handshake_port=r.integer("handshakePort"),
        created=r.timestamp("creationTime"),
        teraflops=r.number("teraflops"),
        message=error.text("message") if error else None,
        error_code=error.text("code") if error else None,
    )


def page(body: Any, account: str, operation: str, ms_cv: str | None = None) -> tuple[list[Session], str | None]:
    return read_page(body, account, operation, ms_cv, session)
