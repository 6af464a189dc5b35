"""The store's errors. Messages name fields and keys, never secrets or entity contents.

Each is also one of the core's (`governor.core.errors`), which is all the service and the
entrypoints look at: bad keys are `BadInput`, a missing row `NotFound`, a state clash
`Conflict`, lost races and unreachable storage `Unavailable`.
"""

from __future__ import annotations

from governor.core import errors as core


class StoreError(Exception):
    """Base of every error the Table store raises on purpose."""


class InvalidKey(StoreError, core.BadInput):
    """A PartitionKey or RowKey value Table Storage would refuse (or that we refuse to store)."""


class InvalidEntity(StoreError, core.BadInput):
    """An entity over Table Storage's limits (1 MiB, 252 custom properties, 64 KiB strings)."""


class NotFound(StoreError, core.NotFound):
    """The project or ledger entry does not exist."""


class DuplicateEntry(StoreError, core.Conflict):
    """A ledger entry with this session or reservation id already exists in the project."""


class StateConflict(StoreError, core.Conflict):
    """The entry is in a state that forbids the operation (e.g. activating a released reservation)."""


class Contention(StoreError, core.Unavailable):
    """Optimistic concurrency kept failing (412/409) after every bounded retry. Safe to retry later."""

    public = "too many concurrent changes; retry"
    retry_after = 1


class StorageUnavailable(StoreError, core.Unavailable):
    """Table Storage failed or could not be reached (an SDK or connection error). `code` names the
    SDK's error type; its message stays out, as it can quote request details."""

    public = "storage is unavailable; retry later"
    retry_after = 30

    def __init__(self, code: str, status: int | None = None):
        super().__init__(f"Table Storage failed: {code}" + (f" (HTTP {status})" if status else ""))
        self.code = code
        self.status = status
