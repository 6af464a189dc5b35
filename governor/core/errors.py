"""The errors the service layer understands. Part of the core: stdlib only, no I/O.

Adapters raise subclasses of these (`governor.arr.ArrNotFound` is a `NotFound`, a store
`Contention` is an `Unavailable`, ...), so the service and the entrypoints handle failures
by what they mean, never by which adapter raised them. `public` is what a caller may be
told; adapter messages stay in logs and records.
"""

from __future__ import annotations


class Refusal(Exception):
    """A rule said no. `reason` is a stable code (budget-exhausted, concurrency-limit, ...)."""

    def __init__(self, reason: str, detail: str, figures: dict | None = None):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.figures = figures or {}


class ServiceError(Exception):
    """Base of the failures below. `code`, `status` and `ms_cv` say what a dependency answered
    (for logs and audit records; never secrets), None when the error is not a dependency's."""

    code: str | None = None
    status: int | None = None
    ms_cv: str | None = None

    @property
    def never_sent(self) -> bool:
        """True when the adapter refused the call by its own checks, before any attempt left."""
        return False


class BadInput(ServiceError, ValueError):
    """A value the governor cannot use or store; `field` names it. The caller's to fix."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFound(ServiceError, LookupError):
    """What the call names does not exist (a project, a ledger entry, a session ARR does not know)."""

    public = "no such resource"


class Conflict(ServiceError):
    """The resource's state forbids this, or it changed meanwhile: read it again."""

    public = "the resource changed state; read it again"


class Unavailable(ServiceError):
    """A dependency (ARR, Table Storage) did not do what was asked; retrying later may work.

    `retry_after`: seconds, when the dependency said. `did_nothing`: True only when the
    dependency certainly did not act (it answered no, or the request never left); otherwise
    the request may have taken effect, so find out before giving money back.
    """

    public = "a dependency is unavailable; retry later"
    retry_after: float | None = None

    @property
    def did_nothing(self) -> bool:
        return False


class Rejected(Unavailable):
    """The dependency answered that it will not do this as asked (e.g. ARR's 400/422 for a lease):
    it did nothing, and the same request will be refused again."""

    @property
    def did_nothing(self) -> bool:
        return True
