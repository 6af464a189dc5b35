"""TableStore: the StorePort on Azure Table Storage (Azurite locally). See docs/storage.md."""

from __future__ import annotations

from governor.settings import Settings
from governor.store.audit import AuditRepo
from governor.store.boundary import port_boundary
from governor.store.capacity import CapacityRepo
from governor.store.concurrency import RetryPolicy
from governor.store.connection import client_from_connection_string, client_from_settings
from governor.store.metering import MeteringRepo
from governor.store.projects import ProjectsRepo
from governor.store.reads import ReadsRepo
from governor.store.retention import RetentionRepo


@port_boundary
class TableStore(ProjectsRepo, MeteringRepo, ReadsRepo, AuditRepo, RetentionRepo, CapacityRepo):
    """`TableStore(service_or_connection_string, prefix)`; `TableStore.from_settings(settings)` in the app.

    Nothing touches the network until the first call; each table is created on first use.
    Failures leave as `governor.core.errors` types (see `boundary`).
    """

    def __init__(self, service, prefix: str = "governor", retry: RetryPolicy | None = None):
        if isinstance(service, str):
            service = client_from_connection_string(service)
        super().__init__(service, prefix, retry)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        port_boundary(cls)  # a subclass's own methods keep the boundary too

    @classmethod
    def from_settings(cls, settings: Settings) -> TableStore:
        store = cls(client_from_settings(settings), settings.get("GOVERNOR_TABLE_PREFIX"))
        pepper = settings.get("GOVERNOR_KEY_PEPPER")
        store.key_pepper = pepper.encode("utf-8") if pepper else b""  # these settings, not the environment's
        return store
