"""Telemetry behind a small interface: spans, metrics and a context-carrying thread pool.

The rest of the governor calls `span`, `add`, `record` and `gauge` (and `ContextPool` for
threads); nothing else. Until `configure` has chosen a backend, or when telemetry is off, every
call is a no-op that imports nothing, so `import function_app` and the tests pay nothing. The
OpenTelemetry SDK and the Azure Monitor distro live in `governor.telemetry_otel`, imported only
when a backend is configured (the first invocation, with APPLICATIONINSIGHTS_CONNECTION_STRING
set or GOVERNOR_TELEMETRY=console/file). Stdlib only here, besides the names both sides share
(`governor.telemetry_names`); the backend never imports this module.

Attribute and dimension values must never be secrets: callers pass names, ids, reasons,
counts and money, never keys, tokens or URLs with secrets in their query (docs/deploy.md lists
them all).
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol

# Callers name metrics as `telemetry.ADMITTED`; the names live in their own module so that the
# backend needs nothing from the interface.
from governor.telemetry_names import (  # noqa: F401
    ADMITTED,
    BUDGET_UTILIZATION,
    COST,
    DEFAULT_PORTS,
    DIMENSIONS,
    EXTENDED,
    HTTP_SERVER_DURATION,
    METERED_TIME,
    OPEN_SESSIONS,
    OWN_HTTP,
    REFUSED,
    SAVED,
    SAVINGS,
    STOPPED,
    SWEEP_DURATION,
    SWEEP_FAILED_ACTIONS,
    SWEEPS,
)

log = logging.getLogger("governor.telemetry")


class Span(Protocol):
    def set(self, key: str, value: Any) -> None: ...


class Backend(Protocol):
    def span(self, name: str, attributes: dict) -> Any: ...  # a context manager yielding a Span
    def add(self, name: str, value: float, dimensions: dict) -> None: ...
    def record(self, name: str, value: float, dimensions: dict) -> None: ...
    def gauge(self, name: str, value: float, dimensions: dict) -> None: ...


class _NoSpan:
    def set(self, key: str, value: Any) -> None:
        pass


_NO_SPAN = _NoSpan()
_backend: Backend | None = None
_configured = False
_lock = threading.Lock()


def _clean(values: dict) -> dict:
    return {k: v for k, v in values.items() if v is not None}


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[Span]:
    """A span around the block (child of the current one); `.set(key, value)` adds attributes.

    Attributes follow OpenTelemetry's semantic conventions where one applies; `kind` is "internal"
    (default), "client" or "server". Setting `error.type` marks the span failed (the conventions
    set it exactly when the operation failed); an exception leaving the block does too, with the
    exception's class as `error.type` unless one was set. A client span with `http.request.method`
    is the HTTP client span of its request: HTTP instrumentation inside it adds no second span."""
    backend = _backend
    if backend is None:
        yield _NO_SPAN
        return
    with backend.span(name, _clean(attributes)) as current:
        yield current


def _dimensions(attributes: dict | None, dimensions: dict) -> dict:
    """A metric's attributes: the standard ones as given (`http.route`...), and the governor's by
    keyword, named as `DIMENSIONS` says (`project` -> `governor.project`). A keyword it does not
    list still lands in the governor's namespace (`governor.<keyword>`): telemetry never fails the
    operation it measures."""
    named = {DIMENSIONS.get(key, f"governor.{key}"): value for key, value in dimensions.items()}
    return _clean({**(attributes or {}), **named})


def dimensions(**values: Any) -> dict:
    """The governor's shared attributes by keyword, named as metric dimensions are (`project` ->
    `governor.project`), Nones left out: for a log record's `extra`, so a query reads the same
    `customDimensions["governor.project"]` on logs as on metrics and spans."""
    return _dimensions(None, values)


def attributes(namespace: str, **values: Any) -> dict:
    """`values` named under `namespace` (`attributes("governor.sweep", failed=0)` ->
    `governor.sweep.failed`), Nones left out: a span's or a log record's own attributes."""
    return _clean({f"{namespace}.{key}": value for key, value in values.items()})


def add(name: str, value: float = 1, attributes: dict | None = None, **dimensions: Any) -> None:
    """Add to a counter."""
    if _backend is not None and value:
        _backend.add(name, value, _dimensions(attributes, dimensions))


def record(name: str, value: float, attributes: dict | None = None, **dimensions: Any) -> None:
    """Record one value of a histogram (durations, in seconds)."""
    if _backend is not None:
        _backend.record(name, value, _dimensions(attributes, dimensions))


def gauge(name: str, value: float, attributes: dict | None = None, **dimensions: Any) -> None:
    """Set a gauge's current value for these dimensions."""
    if _backend is not None:
        _backend.gauge(name, value, _dimensions(attributes, dimensions))


def enabled() -> bool:
    return _backend is not None


def configured() -> bool:
    return _configured


def install(backend: Backend | None) -> None:
    """Use `backend` from now on (None: off). Tests install one over in-memory exporters."""
    global _backend, _configured
    with _lock:
        _backend, _configured = backend, True


def reset() -> None:
    """Forget the backend; the next `configure` chooses again (tests)."""
    global _backend, _configured
    with _lock:
        _backend, _configured = None, False


def configure(settings) -> None:
    """Choose the backend once per process from the settings (called on the first invocation)."""
    global _backend, _configured
    if _configured:
        return
    with _lock:
        if _configured:
            return
        mode = mode_of(settings)
        if mode != "off":
            try:
                from governor.telemetry_otel import build  # lazy: optional feature (telemetry on)

                _backend = build(mode, settings)
            except Exception as exc:  # telemetry must never stop the governor
                log.warning("telemetry is off: %s could not start (%s)", mode, type(exc).__name__)
                _backend = None
        _configured = True


def mode_of(settings) -> str:
    """`azure`, `console`, `file` or `off`; `auto` is azure when a connection string is set."""
    mode = settings.get("GOVERNOR_TELEMETRY")
    if mode == "auto":
        return "azure" if settings.get("APPLICATIONINSIGHTS_CONNECTION_STRING") else "off"
    if mode == "azure" and not settings.get("APPLICATIONINSIGHTS_CONNECTION_STRING"):
        return "off"
    return mode


class ContextPool(ThreadPoolExecutor):
    """A thread pool whose tasks run in the submitter's context, so their spans are children of
    the span that submitted them (OpenTelemetry keeps the current span in a contextvar)."""

    def submit(self, fn: Callable, /, *args, **kwargs):
        context = contextvars.copy_context()
        return super().submit(context.run, fn, *args, **kwargs)
