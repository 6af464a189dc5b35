"""The ARR client's telemetry, OpenTelemetry's HTTP client conventions, against the emulator: each
request put on the wire (every retry of urllib3's included) is an HTTP client span of its own, named
`{method} {url.template}`, with `http.request.resend_count` on a resend, under one internal span of
the ARR operation."""

from datetime import timedelta

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from governor import telemetry
from governor.core.model import VmSize
from governor.telemetry_otel import OtelBackend

SESSIONS = r"/sessions"


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.install(OtelBackend(provider.get_tracer("test"), MeterProvider().get_meter("test")))
    yield exporter
    telemetry.reset()


def under(finished, parent):
    return [s for s in finished if s.parent is not None and s.parent.span_id == parent.context.span_id]


def test_each_retry_is_a_client_span_with_its_resend_count_under_the_operation(make_client, emulator, spans):
    arr = make_client()
    arr.list()  # the token, fetched before the faults
    spans.clear()
    throttled = {"status": 503, "phase": "before"}
    emulator.set_faults(sequence=[throttled, throttled], paths=SESSIONS, retryAfter=0)
    assert arr.list() == []

    finished = spans.get_finished_spans()
    (operation,) = [s for s in finished if s.name == "ARR list"]
    assert operation.kind is SpanKind.INTERNAL and operation.status.status_code is not StatusCode.ERROR
    assert operation.attributes["arr.operation"] == "list" and operation.attributes["arr.ms_cv"]
    assert "http.request.method" not in operation.attributes  # the HTTP attributes are the attempts'
    attempts = sorted(under(finished, operation), key=lambda s: s.start_time)
    assert [s.name for s in attempts] == ["GET /accounts/{accountId}/sessions"] * 3
    assert all(s.kind is SpanKind.CLIENT for s in attempts)
    assert [s.attributes.get("http.request.resend_count") for s in attempts] == [None, 1, 2]
    assert [s.attributes["http.response.status_code"] for s in attempts] == [503, 503, 200]
    assert [s.attributes.get("error.type") for s in attempts] == ["503", "503", None]
    first = attempts[0].attributes
    assert first["url.template"] == "/accounts/{accountId}/sessions" and first["arr.account"] == "default"
    assert emulator.account_id not in str(first["url.template"])
    assert first["url.full"].endswith("/accounts/" + emulator.account_id + "/sessions?api-version=2021-01-01")


def test_a_call_that_never_succeeds_fails_its_operation_and_every_attempt(make_client, emulator, spans):
    arr = make_client(retry_total=1)
    arr.list()
    spans.clear()
    emulator.set_faults(rate=1.0, statuses=[500], retryAfter=0, paths=SESSIONS)
    with pytest.raises(Exception):
        arr.list()
    finished = spans.get_finished_spans()
    (operation,) = [s for s in finished if s.name == "ARR list"]
    assert operation.attributes["error.type"] == "500" and operation.status.status_code is StatusCode.ERROR
    attempts = under(finished, operation)
    assert len(attempts) >= 2 and all(s.attributes["error.type"] == "500" for s in attempts)


@pytest.mark.parametrize(
    ("api_version", "create", "stop"),
    [
        (
            "2021-01-01",
            "PUT /accounts/{accountId}/sessions/{sessionId}",
            "POST /accounts/{accountId}/sessions/{sessionId}/:stop",
        ),
        ("v1", "POST /v1/accounts/{accountId}/sessions/create", "DELETE /v1/accounts/{accountId}/sessions/{sessionId}"),
    ],
)
def test_attempts_are_named_by_method_and_url_template_without_ids(
    make_client, emulator, spans, api_version, create, stop
):
    arr = make_client(api_version)
    session = arr.create(VmSize.STANDARD, timedelta(minutes=30))
    arr.stop(session.id)
    names = [s.name for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert "GET /accounts/{accountId}/token" in names and create in names and stop in names, names
    assert not [n for n in names if session.id in n or emulator.account_id in n]
