"""The OpenTelemetry backend of `governor.telemetry`: the only module that imports the SDK.

`azure`: the Azure Monitor distro (`configure_azure_monitor`), with azure-core's tracing plugin
so Table Storage calls become dependency spans and `requests` so ARR calls do too; logs from the
`governor` loggers go to Application Insights as traces with their `extra` as custom dimensions.
`console` / `file`: the SDK's console exporters writing to stderr or to GOVERNOR_TELEMETRY_FILE
(JSON lines), so a developer sees locally what Azure would get.
"""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from pathlib import Path

from governor import telemetry

SERVICE_NAME = "arr-lease-governor"
LOGGER = "governor"
UNITS = {
    telemetry.COST: "{micro}",
    telemetry.SAVINGS: "{micro}",
    telemetry.SAVED: "{micro}",
    telemetry.SWEEP_DURATION: "ms",
    telemetry.GOVERNED_MINUTES: "min",
    telemetry.BUDGET_USED: "%",
}
_LOCAL_EXPORT_MS = 10_000


class _Span:
    def __init__(self, span):
        self._span = span

    def set(self, key, value) -> None:
        if value is not None:
            self._span.set_attribute(key, value)


class OtelBackend:
    """`telemetry.Backend` over an OpenTelemetry tracer and meter."""

    def __init__(self, tracer, meter):
        from opentelemetry.trace import SpanKind, Status, StatusCode

        self._tracer, self._meter = tracer, meter
        self._kinds = {"client": SpanKind.CLIENT, "server": SpanKind.SERVER, "internal": SpanKind.INTERNAL}
        self._error = lambda: Status(StatusCode.ERROR)
        self._instruments: dict[tuple[str, str], object] = {}

    @contextmanager
    def span(self, name: str, attributes: dict):
        kind = self._kinds.get(attributes.pop("kind", "internal"), self._kinds["internal"])
        with self._tracer.start_as_current_span(name, kind=kind, attributes=attributes) as current:
            yield _Span(current)

    def _instrument(self, kind: str, name: str):
        instrument = self._instruments.get((kind, name))
        if instrument is None:
            make = {
                "counter": self._meter.create_counter,
                "histogram": self._meter.create_histogram,
                "gauge": self._meter.create_gauge,
            }[kind]
            instrument = self._instruments[(kind, name)] = make(name, unit=UNITS.get(name, ""))
        return instrument

    def add(self, name: str, value: float, dimensions: dict) -> None:
        self._instrument("counter", name).add(value, dimensions)

    def record(self, name: str, value: float, dimensions: dict) -> None:
        self._instrument("histogram", name).record(value, dimensions)

    def gauge(self, name: str, value: float, dimensions: dict) -> None:
        self._instrument("gauge", name).set(value, dimensions)


def build(mode: str, settings) -> OtelBackend:
    if mode == "azure":
        return _azure(settings)
    if mode in ("console", "file"):
        return _local(mode, settings)
    raise ValueError(f"unknown telemetry mode {mode!r}")


def _azure(settings) -> OtelBackend:
    from azure.monitor.opentelemetry import configure_azure_monitor
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.resources import Resource

    options = {
        "connection_string": settings.get("APPLICATIONINSIGHTS_CONNECTION_STRING"),
        "logger_name": LOGGER,
        "resource": Resource.create({"service.name": SERVICE_NAME}),
        "enable_live_metrics": False,
        # Only what the governor uses: azure-core (Table Storage) and requests (ARR).
        "instrumentation_options": {
            name: {"enabled": name in ("azure_sdk", "requests")}
            for name in ("azure_sdk", "requests", "django", "fastapi", "flask", "psycopg2", "urllib", "urllib3")
        },
    }
    if "AAD" in (settings.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING") or ""):
        from azure.identity import ManagedIdentityCredential

        client_id = settings.environ.get("AZURE_CLIENT_ID") or None
        options["credential"] = ManagedIdentityCredential(client_id=client_id)
    from opentelemetry.sdk.trace import TracerProvider

    if not isinstance(trace.get_tracer_provider(), TracerProvider):  # the worker may have configured it
        configure_azure_monitor(**options)
    return OtelBackend(trace.get_tracer(LOGGER), metrics.get_meter(LOGGER))


def _local(mode: str, settings) -> OtelBackend:
    from azure.core.settings import settings as azure_core
    from opentelemetry import metrics, trace
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import ConsoleLogExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    if mode == "file":
        path = Path(settings.get("GOVERNOR_TELEMETRY_FILE"))
        path.parent.mkdir(parents=True, exist_ok=True)
        out = path.open("a", encoding="utf-8", buffering=1)
    else:
        out = sys.stderr
    resource = Resource.create({"service.name": SERVICE_NAME})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(ConsoleSpanExporter(out=out, formatter=lambda s: s.to_json(indent=None) + "\n"))
    )
    reader = PeriodicExportingMetricReader(
        ConsoleMetricExporter(out=out, formatter=lambda m: m.to_json(indent=None) + "\n"),
        export_interval_millis=_LOCAL_EXPORT_MS,
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(ConsoleLogExporter(out=out, formatter=lambda r: r.to_json(indent=None) + "\n"))
    )
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    governor_logs = logging.getLogger(LOGGER)
    governor_logs.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
    if governor_logs.getEffectiveLevel() > logging.INFO:  # the Functions host logs Information; match it
        governor_logs.setLevel(logging.INFO)
    azure_core.tracing_implementation = "opentelemetry"  # Table Storage calls as child spans
    return OtelBackend(tracer_provider.get_tracer(LOGGER), meter_provider.get_meter(LOGGER))
