"""Process-wide wiring: settings, the Table store, the ARR clients and the clock.

Built lazily on first use and cached for the life of the worker, so `import function_app`
does no I/O and imports no heavy SDK. Tests point the environment at Azurite and the
emulator, then call `reset_context()` (or inject a ready one with `set_context()`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from governor import settings as settings_module
from governor import telemetry
from governor.arr import account_names as arr_account_names
from governor.arr import clients_from_settings
from governor.core.model import utcnow
from governor.service.gate.arr_reads import ArrReads
from governor.settings import SettingsError
from governor.store import TableStore

if TYPE_CHECKING:
    from governor.service.ports import ArrPort, StorePort
    from governor.settings import Settings


@dataclass
class Context:
    settings: Settings
    store: StorePort
    arr: dict[str, ArrPort]
    clock: Callable[[], datetime] = field(default=utcnow)
    reads: ArrReads | None = None  # the gate's cache of ARR reads, one per instance

    def __post_init__(self) -> None:
        if self.reads is None:
            self.reads = ArrReads(bound=self.settings.get("GOVERNOR_GATE_READ_SECONDS"))

    def __repr__(self) -> str:
        return f"Context(accounts={sorted(self.arr)}, store={type(self.store).__name__})"


_lock = threading.Lock()
_current: Context | None = None


def build_context(settings: Settings | None = None, clock: Callable[[], datetime] = utcnow) -> Context:
    settings = settings if settings is not None else settings_module.load()
    telemetry.configure(settings)  # once per process; imports the SDK only if telemetry is on
    return Context(
        settings=settings,
        store=store_from_settings(settings),
        arr=_by_name(clients_from_settings(settings, in_azure=settings_module.running_in_azure(settings.environ))),
        clock=clock,
    )


def store_from_settings(settings: Settings) -> StorePort:
    """The Table store alone, for a command that needs no ARR account (`python -m governor projects`)."""
    return TableStore.from_settings(settings)


def account_names(settings: Settings) -> list[str]:
    """The names of the ARR accounts `build_context` would build from `settings`, read without
    their secrets (a command that checks a project's accounts where the secrets are not set)."""
    return arr_account_names(settings)


def _by_name(accounts) -> dict:
    if isinstance(accounts, Mapping):
        return dict(accounts)
    return {client.account: client for client in accounts}


def get_context() -> Context:
    global _current
    current = _current
    if current is not None:
        return current
    with _lock:
        if _current is None:
            _current = build_context()
        return _current


def set_context(context: Context | None) -> None:
    global _current
    with _lock:
        _current = context


def reset_context() -> None:
    """Forget the cached context; the next `get_context()` rebuilds it from the environment."""
    set_context(None)


def cli_context() -> Context | None:
    """For a CLI command: log warnings to stderr and build the context, or print why not (a
    setting's name, never its value) and return None."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    try:
        return get_context()
    except SettingsError as exc:
        print(f"error: {exc}")
        return None
