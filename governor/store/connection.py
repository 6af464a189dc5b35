"""The TableServiceClient and one TableClient per table, built lazily and reused for the life of the process.

A connection string (Azurite's devstoreaccount1 string with an explicit TableEndpoint) wins;
otherwise GOVERNOR_TABLES_ENDPOINT with the managed identity in Azure and
DefaultAzureCredential elsewhere. Tables are created if missing once per process, on first
use, never at import.

`traced` is the database client span of one Table Storage operation, a read, a single write or an
entity-group transaction (`traced_transaction`), by OpenTelemetry's database conventions;
azure-core's tracing adds the HTTP span of each of its requests beneath it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import ResourceExistsError
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableClient, TableServiceClient

from governor import telemetry
from governor.settings import Settings, SettingsError, running_in_azure

# db.system.name of Azure Table Storage (and Azurite): OpenTelemetry lists no value for it, so one
# in the form of its "azure.cosmosdb". Azure Monitor shows it as the dependency's type.
DB_SYSTEM = "azure.tables"
CREATE_TABLE = "create_table"  # db.operation.name: the SDK's method, as for reads

_lock = threading.Lock()
_clients: dict[str, Any] = {}
_tables: dict[tuple[Any, str], Any] = {}
_transports: dict[Any, Any] = {}
_servers: dict[Any, dict] = {}  # a service client's span attributes (traced_transaction)


def client_from_connection_string(connection_string: str):
    with _lock:
        client = _clients.get(connection_string)
        if client is None:
            try:
                client = TableServiceClient.from_connection_string(connection_string)
            except ValueError:
                # The SDK's message can echo the string, and with it the account key.
                raise SettingsError("setting GOVERNOR_TABLES_CONNECTION is not a valid connection string") from None
            _clients[connection_string] = client
        return client


def client_from_endpoint(endpoint: str, environ: dict | None = None):
    with _lock:
        client = _clients.get(endpoint)
        if client is None:
            client = TableServiceClient(endpoint=endpoint, credential=_credential(environ))
            _clients[endpoint] = client
        return client


def _credential(environ: dict | None):
    from azure.identity import (  # lazy: optional feature (Entra ID to tables)
        DefaultAzureCredential,
        ManagedIdentityCredential,
    )

    if running_in_azure(environ):
        client_id = (environ or {}).get("AZURE_CLIENT_ID")
        return ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
    return DefaultAzureCredential()


def client_from_settings(settings: Settings):
    connection = settings.get("GOVERNOR_TABLES_CONNECTION")
    if connection:
        return client_from_connection_string(connection)
    endpoint = settings.get("GOVERNOR_TABLES_ENDPOINT")
    if endpoint:
        return client_from_endpoint(endpoint, settings.environ)
    raise SettingsError("set GOVERNOR_TABLES_CONNECTION (Azurite) or GOVERNOR_TABLES_ENDPOINT (Azure)")


def table_client(service, name: str):
    """The process's TableClient for `name`, built (and the table created if missing) on first use.

    Built with its own pipeline rather than `service.get_table_client`: that builds a Pipeline
    over the service client's shared policy objects and re-links their `next` pointers, which
    races with other threads sending through them (an AttributeError from inside the SDK).
    Clients are thread-safe once built, so every thread shares them, and all of a service's
    table clients share one connection pool.
    """
    marker = (service, name)
    client = _tables.get(marker)
    if client is not None:
        return client
    with _lock:
        client = _tables.get(marker)
        if client is None:
            client = TableClient(
                service.url,
                table_name=name,
                credential=service.credential,
                api_version=service.api_version,
                transport=_transport(service),
            )
            _create_table(service, client, name)
            _tables[marker] = client
        return client


def _create_table(service, client, name: str) -> None:
    """The table created if missing (not service.create_table_if_not_exists: it calls
    get_table_client), in its database client span (`create_table`). A table that exists answers
    409: an answer, as a `get_entity` that finds no row is, so `db.response.status_code` and no
    failure, or every cold start would report failed dependencies."""
    with traced(service, name, CREATE_TABLE) as span:
        try:
            client.create_table()
        except ResourceExistsError:
            span.set("db.response.status_code", "409")


def _transport(service):
    """One HTTP transport (connection pool) for all of a service's table clients; call under _lock.

    Each table client has its own policies; sharing only the transport is what the SDK's
    `get_table_client` does too, and keeps one pool per account however many stores a process makes.
    """
    transport = _transports.get(service)
    if transport is None:
        transport = _transports[service] = RequestsTransport()
    return transport


@contextlib.contextmanager
def traced_transaction(service, table: str, ops: list[tuple]) -> Iterator[Any]:
    """The span of one transaction of `ops` on `table` (`traced`): its operation as `_operation`
    names it, `db.operation.batch.size` for two or more, the partition and the count."""
    operation = _operation(ops)
    extra = {
        "db.operation.batch.size": len(ops) if len(ops) > 1 else None,
        "governor.table.partition": ops[0][1]["PartitionKey"] if ops else None,
        "governor.table.operations": len(ops),
    }
    with traced(service, table, operation, **extra) as span:
        yield span


@contextlib.contextmanager
def traced(service, table: str, operation: str, **extra: Any) -> Iterator[Any]:
    """The database client span of one Table Storage operation on `table` (OpenTelemetry's database
    conventions): named `{db.operation.name} {table}`, with the system, the server (address; port
    only when not the scheme's default), the storage account as `db.namespace` and the table as
    `db.collection.name`. A call outside a transaction is named by the SDK's method, as the
    conventions name Cosmos DB's (`get_entity`, `query_entities`, `upsert_entity`, `delete_entity`);
    a transaction by its operations. A failure's HTTP status (409, 412...) is
    `db.response.status_code` and `error.type`. Names and counts only: never a key, a filter or a
    value. Built from a cached dict: cheap enough for every read."""
    attributes = {"kind": "client", **_server(service), "db.collection.name": table, "db.operation.name": operation}
    with telemetry.span(f"{operation} {table}", **attributes, **extra) as span:
        try:
            yield span
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            if isinstance(status, int):
                span.set("db.response.status_code", str(status))
                span.set("error.type", str(status))
            raise


def _operation(ops: list[tuple]) -> str:
    """db.operation.name: one operation by its name (create, update, upsert, delete); a batch of
    two or more as `BATCH` followed by the name they all share, if they do."""
    kinds = {op[0] for op in ops}
    if len(ops) == 1:
        return ops[0][0]
    return f"BATCH {kinds.pop()}" if len(kinds) == 1 else "BATCH"


def _server(service) -> dict:
    """The system, server and namespace attributes of a TableServiceClient's endpoint (once per client)."""
    found = _servers.get(service)
    if found is None:
        parts = urlsplit(getattr(service, "url", "") or "")
        found = _servers[service] = {
            "db.system.name": DB_SYSTEM,
            "server.address": parts.hostname,
            "server.port": parts.port if parts.port != telemetry.DEFAULT_PORTS.get(parts.scheme) else None,
            "db.namespace": getattr(service, "account_name", None),
        }
    return found
