"""The governor's trace sampler, through the telemetry interface and the real OpenTelemetry SDK:
parent-based (a kept trace is complete, a dropped one leaves nothing), sweeps and writes always
kept, reads kept at GOVERNOR_TRACE_SAMPLE_RATE with their rate on every span, and the Functions
host's remote context never deciding for the governor."""

from __future__ import annotations

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_http_instrumentation_enabled
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, StatusCode, TraceFlags

from governor import telemetry
from governor.telemetry_otel import SAMPLE_RATE, OtelBackend, sampler


@pytest.fixture
def traced():
    """`traced(rate)`: the telemetry interface over the SDK with the governor's sampler; the exporter."""
    exporter = InMemorySpanExporter()

    def install(rate: float) -> InMemorySpanExporter:
        provider = TracerProvider(sampler=sampler(rate))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        telemetry.install(OtelBackend(provider.get_tracer("test"), MeterProvider().get_meter("test")))
        return exporter

    yield install
    telemetry.reset()


def request(method: str, route: str = "/api/projects/{project}/sessions") -> None:
    """A gate request as functions/http.py traces it, with an ARR call and a table transaction inside."""
    with telemetry.span(f"{method} {route}", kind="server", **{"http.request.method": method, "http.route": route}):
        arr = {"http.request.method": "GET", "server.address": "arr.example", "server.port": 443}
        with telemetry.span("ARR get", kind="client", **arr):
            pass
        with telemetry.span("update governorLedger", kind="client", **{"db.system.name": "azure.tables"}):
            pass


def traces(exporter) -> dict[int, list]:
    found: dict[int, list] = {}
    for span in exporter.get_finished_spans():
        found.setdefault(span.context.trace_id, []).append(span)
    return found


def test_at_rate_0_reads_leave_nothing_and_writes_and_sweeps_are_kept_whole(traced):
    exporter = traced(0.0)
    for method in ("GET", "HEAD", "OPTIONS"):
        request(method)
    assert exporter.get_finished_spans() == ()
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        request(method)
    with telemetry.span("sweep"), telemetry.ContextPool(max_workers=2) as pool:  # a GET inside: its child
        for future in [pool.submit(request, "GET", "/inner") for _ in range(3)]:
            future.result()
    kept = traces(exporter)
    assert len(kept) == 5  # four writes and the sweep
    for spans in kept.values():
        root = next(s for s in spans if s.parent is None)
        assert len(spans) == (3 if root.name != "sweep" else 10), [s.name for s in spans]
        assert all(SAMPLE_RATE not in s.attributes for s in spans)
    sweep = next(spans for spans in kept.values() if any(s.name == "sweep" for s in spans))
    assert {s.name for s in sweep} == {"sweep", "GET /inner", "ARR get", "update governorLedger"}


def test_at_a_rate_a_share_of_reads_is_kept_whole_with_its_rate(traced):
    exporter = traced(0.25)
    for _ in range(400):
        request("GET")
    kept = traces(exporter)
    assert 50 <= len(kept) <= 150, len(kept)  # 100 expected
    for spans in kept.values():
        assert len(spans) == 3 and all(s.attributes[SAMPLE_RATE] == 25.0 for s in spans)
    request("POST")
    (write,) = [spans for spans in traces(exporter).values() if spans[-1].name.startswith("POST")]
    assert all(SAMPLE_RATE not in s.attributes for s in write)


def test_the_hosts_remote_context_does_not_decide(traced):
    exporter = traced(0.0)
    for flags in (TraceFlags.DEFAULT, TraceFlags.SAMPLED):
        remote = SpanContext(0x5EED0000000000000000000000000001 + flags, 0x1234, True, TraceFlags(flags))
        token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(remote)))
        try:
            request("POST")  # kept although the host did not sample its own span
            request("GET")  # dropped although the host did
        finally:
            otel_context.detach(token)
    kept = traces(exporter)
    assert len(kept) == 2 and all(len(spans) == 3 for spans in kept.values())
    assert {spans[-1].name for spans in kept.values()} == {"POST /api/projects/{project}/sessions"}
    assert all(spans[-1].parent.is_remote for spans in kept.values())  # still children of the host's span


def test_a_failure_is_marked_by_error_type(traced):
    exporter = traced(1.0)
    with pytest.raises(TimeoutError), telemetry.span("ARR list", kind="client"):
        raise TimeoutError("no answer")
    with telemetry.span("ARR stop", kind="client") as span:
        span.set("error.type", "409")
    with telemetry.span("ARR get", kind="client") as span:
        span.set("http.response.status_code", 200)
    timed_out, refused, answered = exporter.get_finished_spans()
    assert timed_out.attributes["error.type"] == "TimeoutError" and timed_out.status.status_code is StatusCode.ERROR
    assert refused.attributes["error.type"] == "409" and refused.status.status_code is StatusCode.ERROR
    assert "error.type" not in answered.attributes and answered.status.status_code is StatusCode.UNSET


def test_an_http_client_span_keeps_http_instrumentation_from_reporting_its_request_again(traced):
    traced(1.0)
    seen = {}
    with telemetry.span("ARR list", kind="client", **{"http.request.method": "GET"}):
        seen["arr"] = is_http_instrumentation_enabled()
    with telemetry.span("update governorLedger", kind="client", **{"db.system.name": "azure.tables"}):
        seen["table"] = is_http_instrumentation_enabled()  # azure-core's HTTP span belongs under it
    assert seen == {"arr": False, "table": True} and is_http_instrumentation_enabled()


@pytest.mark.parametrize("text", ["-0.1", "1.5", "nan", "inf", "half"])
def test_the_rate_is_a_share_from_0_to_1(text):
    from governor.settings import SettingsError, load

    assert load({}).get("GOVERNOR_TRACE_SAMPLE_RATE") == 1.0  # every trace kept unless told otherwise
    assert load({"GOVERNOR_TRACE_SAMPLE_RATE": "0.25"}).get("GOVERNOR_TRACE_SAMPLE_RATE") == 0.25
    with pytest.raises(SettingsError, match="GOVERNOR_TRACE_SAMPLE_RATE"):
        load({"GOVERNOR_TRACE_SAMPLE_RATE": text})
