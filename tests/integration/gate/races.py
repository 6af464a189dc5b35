"""A gate request whose first ledger write loses its ETag to another instance, right after
something changed (an operator's edit): its next round must decide by what changed."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from azure.core.exceptions import HttpResponseError

from governor.bootstrap import get_context
from tests.integration.store.helpers import reserve


@contextmanager
def first_write_loses(gate, meanwhile: Callable[[], object]) -> Iterator[list[int]]:
    """Within the block, the instance's first ledger write runs `meanwhile`, then another instance
    admits (the project's state row moves), then the write goes and fails; yields the statuses lost
    (the caller asserts [412]: the race happened). The project's state row must exist already."""
    store = get_context().store
    submit, lost = store._submit, []

    def raced(table, ops):
        if table != store.tables.ledger or lost:
            return submit(table, ops)
        meanwhile()
        reserve(gate.store, str(uuid.uuid4()), "alpha", 30)
        try:
            return submit(table, ops)
        except HttpResponseError as exc:
            lost.append(exc.status_code)
            raise

    store._submit = raced
    try:
        yield lost
    finally:
        store._submit = submit
