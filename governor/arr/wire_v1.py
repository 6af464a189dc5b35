"""The v1 API (2019 to Feb 2021): requests and the normalisation of its session properties.

v1 speaks .NET TimeSpans, lower-case sizes, PascalCase statuses, may omit `sessionSize`,
returns a server-chosen id from a non-idempotent POST, and answers PATCH with an empty body.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from governor.arr.wire import Reader, Request, check_lease, check_session_id, read_page
from governor.core.model import Session, VmSize
from governor.core.timespan import TimeSpanError, format_timespan, parse_timespan

API_VERSION = "v1"


def _sessions(account_id: str) -> str:
    return f"/v1/accounts/{account_id}/sessions"


def create_path(account_id: str) -> str:
    return f"{_sessions(account_id)}/create"


def create(account_id: str, size: VmSize, lease: timedelta, models: Sequence[str] = ()) -> Request:
    body = {
        "maxLeaseTime": format_timespan(check_lease(lease)),
        "models": list(models),
        "size": VmSize.parse(size).value.lower(),
    }
    return Request("POST", create_path(account_id), body=body, idempotent=False)


def get(account_id: str, session_id: str) -> Request:
    return Request("GET", f"{_sessions(account_id)}/{check_session_id(session_id)}/properties")


def update(account_id: str, session_id: str, lease: timedelta) -> Request:
    body = {"maxLeaseTime": format_timespan(check_lease(lease))}
    return Request("PATCH", f"{_sessions(account_id)}/{check_session_id(session_id)}", body=body)


def stop(account_id: str, session_id: str) -> Request:
    return Request("DELETE", f"{_sessions(account_id)}/{check_session_id(session_id)}")


def list_(account_id: str) -> Request:
    return Request("GET", _sessions(account_id))


def created_id(body: Any, operation: str, ms_cv: str | None = None) -> str:
    return Reader(body, operation, ms_cv, what="create response").text("sessionId", required=True)


def _timespan(r: Reader, name: str) -> timedelta:
    text = r.text(name, required=True)
    try:
        return parse_timespan(text, truncate_ticks=True)  # ARR's own answer: read it, to the microsecond
    except TimeSpanError:
        raise r.fail(name, "is not a TimeSpan") from None


def session(body: Any, account: str, operation: str, ms_cv: str | None = None) -> Session:
    r = Reader(body, operation, ms_cv)
    return Session(
        id=r.text("sessionId", required=True),
        account=account,
        status=r.status("sessionStatus"),
        size=r.size("sessionSize", required=False),
        elapsed=_timespan(r, "sessionElapsedTime"),
        max_lease=_timespan(r, "sessionMaxLeaseTime"),
        hostname=r.text("sessionHostname") or None,
        arr_inspector_port=r.integer("arrInspectorPort"),
        handshake_port=r.integer("handshakePort"),
        message=r.text("message"),
    )


def page(body: Any, account: str, operation: str, ms_cv: str | None = None) -> tuple[list[Session], str | None]:
    return read_page(body, account, operation, ms_cv, session)
