"""The store's errors. Messages name fields and keys, never secrets or entity contents."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the Table store raises on purpose."""


class InvalidKey(StoreError, ValueError):
    """A PartitionKey or RowKey value Table Storage would refuse (or that we refuse to store)."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class InvalidEntity(StoreError, ValueError):
    """An entity over Table Storage's limits (1 MiB, 252 custom properties, 64 KiB strings)."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFound(StoreError, LookupError):
    """The project or ledger entry does not exist."""


class DuplicateEntry(StoreError):
    """A ledger entry with this session or reservation id already exists in the project."""


class StateConflict(StoreError):
    """The entry is in a state that forbids the operation (e.g. activating a released reservation)."""


class Contention(StoreError):
    """Optimistic concurrency kept failing (412/409) after every bounded retry. Safe to retry later."""
