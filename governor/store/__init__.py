"""Table Storage adapter: `TableStore` implements `governor.service.ports.StorePort`.

Nothing touches the network until the first call; azure-identity loads only for an Entra ID endpoint.
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
