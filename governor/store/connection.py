"""The TableServiceClient and one TableClient per table, built lazily and reused for the life of the process.

A connection string (Azurite's devstoreaccount1 string with an explicit TableEndpoint) wins;
otherwise GOVERNOR_TABLES_ENDPOINT with the managed identity in Azure and
DefaultAzureCredential elsewhere. Tables are created if missing once per process, on first
use, never at import.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from governor.settings import Settings, SettingsError, running_in_azure

_lock = threading.Lock()
_clients: dict[str, Any] = {}
_tables: dict[tuple[Any, str], Any] = {}
_transports: dict[Any, Any] = {}


def client_from_connection_string(connection_string: str):
    with _lock:
        client = _clients.get(connection_string)
        if client is None:
            from azure.data.tables import TableServiceClient

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
            from azure.data.tables import TableServiceClient

            client = TableServiceClient(endpoint=endpoint, credential=_credential(environ))
            _clients[endpoint] = client
        return client


def _credential(environ: dict | None):
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

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
            from azure.core.exceptions import ResourceExistsError
            from azure.data.tables import TableClient

            client = TableClient(
                service.url,
                table_name=name,
                credential=service.credential,
                api_version=service.api_version,
                transport=_transport(service),
            )
            with contextlib.suppress(ResourceExistsError):
                client.create_table()  # not service.create_table_if_not_exists: it calls get_table_client
            _tables[marker] = client
        return client


def _transport(service):
    """One HTTP transport (connection pool) for all of a service's table clients; call under _lock.

    Each table client has its own policies; sharing only the transport is what the SDK's
    `get_table_client` does too, and keeps one pool per account however many stores a process makes.
    """
    transport = _transports.get(service)
    if transport is None:
        from azure.core.pipeline.transport import RequestsTransport

        transport = _transports[service] = RequestsTransport()
    return transport
