"""The OpenTelemetry backend of `governor.telemetry`: the only module that imports the SDK.

It fits the interface's `Backend` protocol by shape and takes the names it shares with the interface
from `governor.telemetry_names`, so it never imports the interface (which imports it lazily).

`azure`: the Azure Monitor distro (`configure_azure_monitor`) with azure-core's tracing plugin, so
Table Storage calls become HTTP dependency spans; ARR calls are the governor's own HTTP client spans
(`governor.arr.client`), and requests' instrumentation is off so that no call is counted twice.
Logs from the `governor` loggers go to Application Insights as traces with their `extra` as custom
dimensions. `console` / `file`: the SDK's console exporters writing to stderr or to
GOVERNOR_TELEMETRY_FILE (JSON lines), so a developer sees locally what Azure would get.

Every mode samples traces with `GovernorSampler` (docs/deploy.md, "What is sampled"): parent-based,
every sweep, timer and write kept, read-only requests kept at GOVERNOR_TRACE_SAMPLE_RATE. Logs and
metrics are never sampled.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TextIO

from azure.core.settings import settings as azure_core
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.utils import suppress_http_instrumentation
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import ConsoleLogExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Status, StatusCode

from governor import __version__
from governor.telemetry_names import BUCKETS, ERROR_TYPE, HTTP_METHOD, KIND, OWN_HTTP, UNITS

SERVICE_NAME = "arr-lease-governor"


def _resource(environ: Mapping[str, str] | None = None) -> Resource:
    return Resource.create(resource_attributes(os.environ if environ is None else environ))


def resource_attributes(environ: Mapping[str, str]) -> dict:
    """The service, and in Azure the cloud and FaaS resource attributes OpenTelemetry defines for a
    function app (docs/resource/cloud.md, docs/resource/faas.md), from the variables the platform
    sets: no detector, no call. The distro's own detectors leave `cloud.platform` and `faas.*` unset
    on Functions. `faas.name` and `cloud.resource_id` (the invoked function's id, which the
    convention asks for on Azure, not the app's) are per function, so span attributes
    (`governor.functions.http.faas_attributes`). In `azure` mode the distro's App Service detector
    still sets the app's id as the resource's `cloud.resource_id` where all its parts are set."""
    attributes: dict[str, str | int] = {"service.name": SERVICE_NAME, "service.version": __version__}
    site = environ.get("WEBSITE_SITE_NAME")
    if not site:  # not in Azure: nothing to say about a cloud
        return attributes
    attributes.update({"cloud.provider": "azure", "cloud.platform": "azure.functions"})
    for key, variable in (("cloud.region", "REGION_NAME"), ("faas.instance", "WEBSITE_INSTANCE_ID")):
        if environ.get(variable):
            attributes[key] = environ[variable]
    memory = environ.get("WEBSITE_MEMORY_LIMIT_MB", "")
    if memory.isdigit():
        attributes["faas.max_memory"] = int(memory) * 1024 * 1024  # bytes
    return attributes


LOGGER = "governor"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})  # requests that change nothing: sampled at the rate
# Application Insights' sampling attribute: the exporter turns it into the envelope's sampleRate
# (percent), from which Application Insights counts each kept item as 100/sampleRate items.
SAMPLE_RATE = "_MS.sampleRate"
_LOCAL_EXPORT_MS = 10_000


class _Span:
    def __init__(self, span, error):
        self._span, self._error = span, error
        self.failed = False

    def set(self, key, value) -> None:
        if value is None:
            return
        self._span.set_attribute(key, value)
        if key == ERROR_TYPE:
            self.failed = True
            self._span.set_status(self._error())


class OtelBackend:
    """`telemetry.Backend` over an OpenTelemetry tracer and meter."""

    def __init__(self, tracer, meter):
        self._tracer, self._meter = tracer, meter
        self._suppress_http = suppress_http_instrumentation
        self._kinds = {"client": SpanKind.CLIENT, "server": SpanKind.SERVER, "internal": SpanKind.INTERNAL}
        self._error = lambda: Status(StatusCode.ERROR)
        self._instruments: dict[tuple[str, str], object] = {}

    @contextmanager
    def span(self, name: str, attributes: dict):
        kind = self._kinds.get(attributes.pop(KIND, "internal"), self._kinds["internal"])
        # A client span with an HTTP method is the HTTP client span of its call, and a span marked
        # OWN_HTTP makes its requests' spans itself: an HTTP library's instrumentation inside either
        # would only report the same request a second time.
        own = bool(attributes.pop(OWN_HTTP, False))
        http_client = own or (kind is self._kinds["client"] and HTTP_METHOD in attributes)
        with self._tracer.start_as_current_span(name, kind=kind, attributes=attributes) as current:
            span = _Span(current, self._error)
            with self._suppress_http() if http_client else nullcontext():
                try:
                    yield span
                except Exception as exc:
                    if not span.failed:  # the SDK records the exception and the error status
                        current.set_attribute(ERROR_TYPE, _qualified(type(exc)))
                    raise

    def _instrument(self, kind: str, name: str):
        instrument = self._instruments.get((kind, name))
        if instrument is None:
            unit = UNITS.get(name, "")
            if kind == "histogram":
                # the convention's advised buckets where it gives some (seconds, not the SDK's ms-sized default)
                buckets = BUCKETS.get(name)
                instrument = self._meter.create_histogram(name, unit=unit, explicit_bucket_boundaries_advisory=buckets)
            elif kind == "counter":
                instrument = self._meter.create_counter(name, unit=unit)
            else:
                instrument = self._meter.create_gauge(name, unit=unit)
            self._instruments[(kind, name)] = instrument
        return instrument

    def add(self, name: str, value: float, dimensions: dict) -> None:
        self._instrument("counter", name).add(value, dimensions)

    def record(self, name: str, value: float, dimensions: dict) -> None:
        self._instrument("histogram", name).record(value, dimensions)

    def gauge(self, name: str, value: float, dimensions: dict) -> None:
        self._instrument("gauge", name).set(value, dimensions)


def _qualified(kind: type) -> str:
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def sampler(read_rate: float):
    """The governor's sampler (an OpenTelemetry `Sampler`); see `GovernorSampler`."""
    reads = TraceIdRatioBased(read_rate)

    class GovernorSampler(Sampler):
        """Parent-based, so a kept trace is complete: a span whose parent is in this process is kept
        exactly when its parent is (and carries the parent's sample rate). Any other span (a root,
        or the first span under the Functions host's remote context, whose flag reflects the host's
        own sampling) is decided here: a read-only HTTP request (a server span whose method is
        GET, HEAD or OPTIONS) at `read_rate`, by its trace id; everything else (the sweep, the
        timers, every write of the gate and of manage, which move money or policy) always."""

        def should_sample(
            self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None
        ):
            parent = trace.get_current_span(parent_context)
            context = parent.get_span_context()
            attributes = dict(attributes or {})
            if context.is_valid and not context.is_remote:
                if not context.trace_flags.sampled:
                    return SamplingResult(Decision.DROP, None, context.trace_state)
                rate = (getattr(parent, "attributes", None) or {}).get(SAMPLE_RATE)
                if rate is not None:
                    attributes[SAMPLE_RATE] = rate
                return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, context.trace_state)
            state = context.trace_state if context.is_valid else None
            if kind is SpanKind.SERVER and str(attributes.get(HTTP_METHOD, "")).upper() in READ_METHODS:
                decision = reads.should_sample(None, trace_id, name).decision
                if decision is Decision.DROP:
                    return SamplingResult(Decision.DROP, None, state)
                if read_rate < 1:
                    attributes[SAMPLE_RATE] = read_rate * 100
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, state)

        def get_description(self) -> str:
            return f"GovernorSampler{{reads={read_rate:g}}}"

    return GovernorSampler()


def build(mode: str, settings) -> OtelBackend:
    if mode == "azure":
        return _azure(settings)
    if mode in ("console", "file"):
        return _local(mode, settings)
    raise ValueError(f"unknown telemetry mode {mode!r}")


def _azure(settings) -> OtelBackend:
    from azure.monitor.opentelemetry import configure_azure_monitor  # lazy: optional feature (telemetry to Azure)

    options = {
        "connection_string": settings.get("APPLICATIONINSIGHTS_CONNECTION_STRING"),
        "logger_name": LOGGER,
        "resource": _resource(settings.environ),
        "enable_live_metrics": False,
        # Logs are never sampled: a log record of a trace that was not kept is still sent.
        "enable_trace_based_sampling_for_logs": False,
        # Only azure-core (Table Storage, Entra): ARR calls are the governor's own HTTP client spans
        # (governor/arr/client.py), so requests' instrumentation would report each of them twice.
        "instrumentation_options": {
            name: {"enabled": name == "azure_sdk"}
            for name in ("azure_sdk", "requests", "django", "fastapi", "flask", "psycopg2", "urllib", "urllib3")
        },
    }
    if "AAD" in (settings.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING") or ""):
        from azure.identity import ManagedIdentityCredential  # lazy: optional feature (Entra ID to App Insights)

        client_id = settings.environ.get("AZURE_CLIENT_ID") or None
        options["credential"] = ManagedIdentityCredential(client_id=client_id)

    if not isinstance(trace.get_tracer_provider(), TracerProvider):  # the worker may have configured it
        configure_azure_monitor(**options)
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        # The distro's default sampler keeps at most 5 traces a second, whatever they are; this
        # one is set on purpose. Tracers made from now on use it: the governor's, and azure-core's
        # (made per span); the distro made none before (requests' instrumentation is off).
        provider.sampler = sampler(settings.get("GOVERNOR_TRACE_SAMPLE_RATE"))
    _log_information()
    return OtelBackend(provider.get_tracer(LOGGER), metrics.get_meter(LOGGER))


def _local(mode: str, settings) -> OtelBackend:
    out: TextIO
    if mode == "file":
        path = Path(settings.get("GOVERNOR_TELEMETRY_FILE"))
        path.parent.mkdir(parents=True, exist_ok=True)
        out = path.open("a", encoding="utf-8", buffering=1)
    else:
        out = sys.stderr
    resource = _resource(settings.environ)
    tracer_provider = TracerProvider(resource=resource, sampler=sampler(settings.get("GOVERNOR_TRACE_SAMPLE_RATE")))
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
    logging.getLogger(LOGGER).addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
    _log_information()
    azure_core.tracing_implementation = "opentelemetry"  # Table Storage calls as child spans
    return OtelBackend(tracer_provider.get_tracer(LOGGER), meter_provider.get_meter(LOGGER))


def _log_information() -> None:
    """The `governor` loggers send Information and above, as the Functions host logs Information: the
    sweep's `sweep finished` record (which the alerts read) is one. Python's default is Warning."""
    governor_logs = logging.getLogger(LOGGER)
    if governor_logs.getEffectiveLevel() > logging.INFO:
        governor_logs.setLevel(logging.INFO)
