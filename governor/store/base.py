"""Plumbing shared by the store's repositories: table clients, reads, transactions, retry."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from governor.store.concurrency import RetryPolicy, is_conflict, with_retry
from governor.store.connection import table_client, traced, traced_transaction
from governor.store.entities import check_entity, etag_of
from governor.store.tables import TableNames, table_names

if TYPE_CHECKING:
    from governor.core.model import CallerKey, ProjectPolicy

GET, QUERY = "get_entity", "query_entities"  # db.operation.name of the reads: the SDK's methods
UPSERT, DELETE = "upsert_entity", "delete_entity"  # and of the writes outside a transaction
MAX_BATCH = 100  # Table Storage's limit per entity-group transaction; Azurite breaks above it


class TablesBase:
    def __init__(self, service, prefix: str = "governor", retry: RetryPolicy | None = None):
        self._service = service
        self.tables: TableNames = table_names(prefix)
        self.prefix = prefix
        self.retry_policy = retry or RetryPolicy()
        self._fresh = Recent()  # reservations this store just wrote, with their ETags
        self._totals = Recent(1024)  # each project's !state and usage rows as last seen (store/totals.py)

    if TYPE_CHECKING:
        # The repositories are mixins of one TableStore; ProjectsRepo provides this to the others.
        def get_project(self, name: str, max_age: float = 0.0) -> ProjectPolicy | None: ...

        def caller_keys(self, name: str, max_age: float = 0.0) -> list[CallerKey]: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prefix={self.prefix!r}, endpoint={self._service.url!r})"

    def _table(self, name: str):
        """The table's client; its first use in the process creates the table, in a `create_table`
        span, so every operation takes it before opening its own span, not inside it."""
        return table_client(self._service, name)

    def _retry(self, round_, what: str, retryable=is_conflict):
        return with_retry(round_, self.retry_policy, what, retryable=retryable)

    def _query(self, table: str, filter_: str, parameters: dict | None = None, select=None, page=None) -> list[dict]:
        # The SDK substitutes @params in space-separated words only, so "(RowKey eq @a)" would not work.
        filter_ = " ".join(filter_.replace("(", " ( ").replace(")", " ) ").split())
        client = self._table(table)
        with traced(self._service, table, QUERY):  # a database client span: every page of the query
            return list(
                client.query_entities(filter_, parameters=parameters or {}, select=select, results_per_page=page)
            )

    def _point(self, table: str, partition: str, row: str) -> dict | None:
        client = self._table(table)
        with traced(self._service, table, GET, **{"governor.table.partition": partition}) as span:
            try:
                return client.get_entity(partition, row)
            except ResourceNotFoundError:  # an answer, not a failure: the row is not there
                span.set("db.response.status_code", "404")
                return None

    def _upsert(self, table: str, entity: dict, mode: UpdateMode = UpdateMode.MERGE) -> None:
        """One blind write of one entity outside a transaction (no ETag), in its database client
        span like every other table operation: `upsert_entity`, with the partition."""
        client = self._table(table)
        with traced(self._service, table, UPSERT, **{"governor.table.partition": entity["PartitionKey"]}):
            client.upsert_entity(entity, mode=mode)

    def _delete(self, table: str, partition: str, row: str) -> None:
        """One unconditional delete outside a transaction (a row already gone is no error: the SDK
        ignores its 404), in its database client span: `delete_entity`, with the partition."""
        client = self._table(table)
        with traced(self._service, table, DELETE, **{"governor.table.partition": partition}):
            client.delete_entity(partition, row)

    def _traced(self, table: str, operation: str):
        """The database client span of a read that pages by itself (`query_entities` in a loop):
        take the table's client (`_table`) before opening it."""
        return traced(self._service, table, operation)

    def _submit(self, table: str, ops: list[tuple]) -> list[dict]:
        """One entity-group transaction (all ops in one partition, at most 100)."""
        if not ops:
            return []
        if len(ops) > MAX_BATCH:
            raise ValueError(f"a transaction holds at most {MAX_BATCH} operations, got {len(ops)}")
        for op in ops:
            check_entity(op[1], op[1].get("RowKey", "entity"))
        client = self._table(table)
        # a database client span: table name, partition and operation count, never an entity's values
        with traced_transaction(self._service, table, ops):
            return client.submit_transaction(ops)


class Recent:
    """A small thread-safe map of the latest `size` items, oldest dropped first."""

    def __init__(self, size: int = 256):
        self._size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def get(self, key):
        with self._lock:
            return self._items.get(key)

    def pop(self, key):
        with self._lock:
            return self._items.pop(key, None)


# ---------------------------------------------------------------- transaction operations
def write_op(entity: dict, previous: dict | None) -> tuple:
    """Replace `previous` only if unchanged since read (ETag), or insert if there was none."""
    return create_op(entity) if previous is None else update_op(entity, etag_of(previous))


def create_op(entity: dict) -> tuple:
    """Insert; the transaction fails (409) if the row appeared meanwhile."""
    return ("create", entity)


def update_op(entity: dict, etag: str | None) -> tuple:
    """Replace the row only if its ETag is still `etag`."""
    return (
        "update",
        entity,
        {"mode": UpdateMode.REPLACE, "etag": etag, "match_condition": MatchConditions.IfNotModified},
    )


def delete_op(previous: dict) -> tuple:
    return delete_key_op(previous["PartitionKey"], previous["RowKey"], etag_of(previous))


def delete_key_op(partition: str, row: str, etag: str | None) -> tuple:
    """Delete the row only if its ETag is still `etag`."""
    key = {"PartitionKey": partition, "RowKey": row}
    return ("delete", key, {"etag": etag, "match_condition": MatchConditions.IfNotModified})


def result_etag(results: list[Any], index: int) -> str | None:
    try:
        return results[index].get("etag")
    except (IndexError, AttributeError):
        return None
