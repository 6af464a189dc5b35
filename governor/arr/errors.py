"""Typed ARR errors. Each carries the HTTP status, ARR's error code and message, and MS-CV.

Messages are built from ARR's answer and our own words only: never from request headers,
so an account key or access token cannot leak through `str(exc)` or `repr(exc)`.

Each concrete error is also one of the core's (`governor.core.errors`): a 404 is a `NotFound`,
a 400/422 a `Rejected`, every other failure an `Unavailable`; the service sees only those.
"""

from __future__ import annotations

from governor.core import errors as core

VALIDATE = "validate"  # the operation of a call our own checks refused: it never left


class ArrError(core.ServiceError):
    """Any failure talking to ARR.

    `indeterminate` is True when the request may have taken effect although no answer
    arrived (e.g. a read timeout after a v1 create was sent): the caller must reconcile
    (list sessions) rather than assume nothing happened.
    """

    public = "ARR is unavailable; retry later"
    transient = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        ms_cv: str | None = None,
        operation: str | None = None,
        retry_after: float | None = None,
        indeterminate: bool = False,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.ms_cv = ms_cv
        self.operation = operation
        self.retry_after = retry_after
        self.indeterminate = indeterminate

    @property
    def did_nothing(self) -> bool:
        """ARR answered no (a 4xx), or the request failed before it was sent (status None, neither
        indeterminate nor transient): ARR certainly did not act on it."""
        if self.status is not None:
            return 400 <= self.status < 500
        return not self.indeterminate and not self.transient

    @property
    def never_sent(self) -> bool:
        return self.operation == VALIDATE

    def __str__(self) -> str:
        parts = [f"ARR {self.operation} failed" if self.operation else "ARR call failed"]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(self.code)
        text = ", ".join(parts) + f": {self.message}"
        if self.ms_cv:
            text += f" (MS-CV {self.ms_cv})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, ms_cv={self.ms_cv!r}, operation={self.operation!r})"
        )


class ArrRequestError(ArrError, core.Rejected):
    """ARR (or our own validation, status None) refused the request as malformed: 400, 422, ..."""


class ArrNotFound(ArrError, core.NotFound):
    """404: no such session (or account)."""

    public = "ARR does not know this session"


class ArrConflict(ArrError, core.Unavailable):
    """409: a session with this id exists with different settings."""


class ArrAuthError(ArrError, core.Unavailable):
    """401/403 from ARR or the token service, or no usable credential."""


class ArrThrottled(ArrError, core.Unavailable):
    """429 that outlasted the retry budget; `retry_after` says when ARR will listen again."""

    transient = True


class ArrUnavailable(ArrError, core.Unavailable):
    """5xx, timeouts or connection failures that outlasted the retry budget."""

    transient = True


class ArrBadResponse(ArrError, core.Unavailable):
    """ARR answered something we cannot understand: not JSON, missing fields, unknown status."""


def error_for_status(status: int) -> type[ArrError]:
    if status == 404:
        return ArrNotFound
    if status == 409:
        return ArrConflict
    if status in (401, 403):
        return ArrAuthError
    if status == 429:
        return ArrThrottled
    if status >= 500:
        return ArrUnavailable
    if 400 <= status < 500:
        return ArrRequestError
    return ArrBadResponse
