"""Table Storage adapter: `TableStore` implements `governor.service.ports.StorePort`.

Cheap to import: azure.data.tables loads on the first call that talks to a table.
"""

from governor.store.errors import (
    Contention,
    DuplicateEntry,
    InvalidEntity,
    InvalidKey,
    NotFound,
    StateConflict,
    StoreError,
)
from governor.store.store import TableStore

__all__ = [
    "Contention",
    "DuplicateEntry",
    "InvalidEntity",
    "InvalidKey",
    "NotFound",
    "StateConflict",
    "StoreError",
    "TableStore",
]
