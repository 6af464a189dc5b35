"""What both API generations share on the wire: the request value, field readers, error bodies.

Pure: building requests and reading JSON only. The readers raise ArrBadResponse naming the
field, so an unexpected answer from ARR is a clear typed error, never a KeyError.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar, overload
from urllib.parse import quote

from governor.arr.errors import VALIDATE, ArrBadResponse, ArrRequestError
from governor.core.model import Session, SessionStatus, VmSize
from governor.core.policy.limits import SESSION_ID

E = TypeVar("E")


@dataclass(frozen=True)
class Request:
    """One HTTP call, relative to the service endpoint."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: dict | None = None
    # False only for v1 create: it must never be resent once it may have reached ARR.
    idempotent: bool = True


def check_session_id(session_id: str) -> str:
    if not SESSION_ID.accepts(session_id):
        raise ArrRequestError(f"session_id {SESSION_ID.hint}", code="InvalidSessionId", operation=VALIDATE)
    return quote(session_id, safe="")


def check_lease(lease: timedelta) -> timedelta:
    if not isinstance(lease, timedelta) or lease <= timedelta(0):
        raise ArrRequestError("lease must be a positive duration", code="InvalidLease", operation=VALIDATE)
    return lease


def bad(operation: str, message: str, ms_cv: str | None = None) -> ArrBadResponse:
    return ArrBadResponse(message, operation=operation, ms_cv=ms_cv)


class Reader:
    """Typed access to one JSON object from ARR, raising ArrBadResponse naming the field."""

    def __init__(self, body: Any, operation: str, ms_cv: str | None, what: str = "session"):
        if not isinstance(body, dict):
            raise bad(operation, f"expected a JSON object for the {what}, got {type(body).__name__}", ms_cv)
        self.body, self.operation, self.ms_cv, self.what = body, operation, ms_cv, what

    def fail(self, name: str, problem: str) -> ArrBadResponse:
        return bad(self.operation, f"{self.what} field {name!r} {problem}", self.ms_cv)

    def _get(self, name: str, required: bool) -> Any:
        value = self.body.get(name)
        if value is None and required:
            raise self.fail(name, "is missing")
        return value

    @overload
    def text(self, name: str, required: Literal[True]) -> str: ...
    @overload
    def text(self, name: str, required: bool = False) -> str | None: ...
    def text(self, name: str, required: bool = False) -> str | None:
        value = self._get(name, required)
        if value is not None and not isinstance(value, str):
            raise self.fail(name, "is not a string")
        return value

    @overload
    def integer(self, name: str, required: Literal[True], minimum: int = 0) -> int: ...
    @overload
    def integer(self, name: str, required: bool = False, minimum: int = 0) -> int | None: ...
    def integer(self, name: str, required: bool = False, minimum: int = 0) -> int | None:
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(name, f"is not an integer >= {minimum}")
        return value

    def number(self, name: str) -> float | None:
        value = self._get(name, False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(name, "is not a number")
        return float(value)

    def status(self, name: str) -> SessionStatus:
        return self._enum(name, SessionStatus.parse, self.text(name, required=True))

    def size(self, name: str, required: bool) -> VmSize | None:
        value = self.text(name, required)
        return None if value is None else self._enum(name, VmSize.parse, value)

    def _enum(self, name: str, parse: Callable[[str], E], value: str) -> E:
        try:
            return parse(value)
        except ValueError:
            raise self.fail(name, f"has unknown value {value[:40]!r}") from None

    def timestamp(self, name: str) -> datetime | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise self.fail(name, "is not an ISO 8601 date-time") from None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

    def object(self, name: str) -> Reader | None:
        value = self.body.get(name)
        return None if value is None else Reader(value, self.operation, self.ms_cv, f"{self.what}.{name}")


def error_details(body: Any) -> tuple[str | None, str | None]:
    """(code, message) from `{"error": {"code", "message"}}` or a flat `{"code", "message"}`."""
    if isinstance(body, dict):
        error = body.get("error")
        inner = error if isinstance(error, dict) else body
        code = inner.get("code") or inner.get("Code")
        message = inner.get("message") or inner.get("Message")
        return (str(code) if code else None, str(message) if message else None)
    return None, None


def read_page(
    body: Any, account: str, operation: str, ms_cv: str | None, read_session: Callable[..., Session]
) -> tuple[list[Session], str | None]:
    """One page of a list, either generation: its sessions and the `@nextLink`, if any."""
    r = Reader(body, operation, ms_cv, what="session list")
    items = r.body.get("sessions")
    if not isinstance(items, list):
        raise r.fail("sessions", "is missing or not an array")
    return [read_session(item, account, operation, ms_cv) for item in items], r.text("@nextLink")
