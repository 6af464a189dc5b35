"""Telemetry through in-memory OpenTelemetry exporters: a gate request and a sweep produce their
spans (ARR calls and table transactions as children, MS-CV as an attribute), the metrics with their
dimensions, and log records with `extra` dimensions; no secret reaches any attribute."""

from __future__ import annotations

import json
import logging
import secrets

import azure.functions as func
import pytest
from azure.data.tables import TableServiceClient
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from governor import telemetry, telemetry_names
from governor.bootstrap import reset_context
from governor.functions.openapi_doc import registered_functions
from governor.store import TableStore
from governor.store.connection import table_client
from governor.telemetry_otel import OtelBackend
from tests.fixtures.azurite import unique_prefix
from tests.integration.sweep.conftest import WEBHOOK_SECRET


@pytest.fixture
def exported(stack, monkeypatch):
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    meter_provider = MeterProvider(metric_readers=[reader])
    telemetry.install(OtelBackend(tracer_provider.get_tracer("test"), meter_provider.get_meter("test")))
    reset_context()
    yield spans, reader
    telemetry.reset()
    reset_context()


def call(name: str, method: str, route: str, params: dict, key: str, body: dict | None = None, query: str = ""):
    import function_app

    handler = {f.get_function_name(): f for f in registered_functions(function_app.app)}[name].get_user_function()
    request = func.HttpRequest(
        method=method,
        url=f"http://localhost/api/{route}" + (f"?{query}" if query else ""),
        headers={"X-Api-Key": key, "Content-Type": "application/json"},
        route_params=params,
        body=json.dumps(body or {}).encode(),
    )
    return handler(request)


units: dict[str, str] = {}  # each metric's unit, as the last `points` read it


def points(reader) -> dict[str, list[tuple[dict, float]]]:
    found: dict[str, list] = {}
    for resource in reader.get_metrics_data().resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    value = getattr(point, "value", None)
                    value = point.sum if value is None and hasattr(point, "sum") else value
                    units[metric.name] = metric.unit
                    found.setdefault(metric.name, []).append((dict(point.attributes), value))
    return found


def test_a_gate_request_and_a_sweep_produce_spans_metrics_and_dimensions(stack, exported, caplog):
    spans, reader = exported
    caplog.set_level(logging.INFO, logger="governor")
    policy = stack.project("alpha", webhook_url="http://127.0.0.1:9/hook")
    key = stack.store.rotate_key("alpha")
    route, params = "projects/alpha/sessions", {"project": "alpha"}

    admitted = call("request_session", "POST", route, params, key, {"size": "Standard", "maxLeaseTime": 60})
    assert admitted.status_code == 202, admitted.get_body()
    refused = call("request_session", "POST", route, params, key, {"size": "Premium", "maxLeaseTime": 600})
    assert refused.status_code in (422, 402)
    refusal = json.loads(refused.get_body())["type"].rsplit(":", 1)[-1]

    # the gate request: one server span, with the ARR create and the ledger's transactions as children
    finished = spans.get_finished_spans()
    (request,) = [s for s in finished if s.name == "POST /api/projects/{project}/sessions" and
                  s.attributes["http.response.status_code"] == 202]  # fmt: skip
    assert request.attributes["governor.project"] == "alpha" and request.attributes["http.request.method"] == "POST"
    children = [s for s in finished if s.parent is not None and s.parent.span_id == request.context.span_id]
    names = {s.name for s in children}
    tables = [s for s in children if s.attributes.get("db.system.name") == "azure.tables"]
    reads = [s for s in tables if s.attributes["db.operation.name"] in ("get_entity", "query_entities")]
    (last_use,) = [s for s in tables if s.attributes["db.operation.name"] == "upsert_entity"]
    written = [s for s in tables if s not in reads and s is not last_use]
    assert "ARR create" in names and written and all(s.name.endswith("Ledger") for s in written), names
    # the key's last use, a blind upsert outside any transaction, is a database client span as well
    assert last_use.name.startswith("upsert_entity ") and last_use.name.endswith("Projects")
    assert last_use.kind is SpanKind.CLIENT and last_use.attributes["db.collection.name"] == last_use.name.split()[1]
    assert last_use.attributes["governor.table.partition"] == "keyuse"
    # reads are database client spans too: the project's row, read once (then cached), named by the SDK's method
    (project_row,) = [s for s in reads if s.name.endswith("Projects")]
    assert project_row.name.startswith("get_entity ") and project_row.kind is SpanKind.CLIENT
    assert project_row.attributes["db.collection.name"] == project_row.name.split(" ", 1)[1]
    assert (
        project_row.attributes["governor.table.partition"] and "db.response.status_code" not in project_row.attributes
    )
    (create,) = [s for s in children if s.name == "ARR create"]
    assert create.attributes["arr.ms_cv"] and create.kind is SpanKind.INTERNAL
    # the request ARR received is the HTTP client span beneath the operation: one attempt, no resend
    beneath = [s for s in finished if s.parent is not None and s.parent.span_id == create.context.span_id]
    (sent,) = [s for s in beneath if s.kind is SpanKind.CLIENT]  # (a first token exchange: `ARR token`)
    assert sent.name == "PUT /accounts/{accountId}/sessions/{sessionId}" and sent.kind is SpanKind.CLIENT
    assert sent.attributes["http.response.status_code"] in (200, 201) and sent.attributes["arr.ms_cv"]
    assert "http.request.resend_count" not in sent.attributes
    assert all(s.context.trace_id == request.context.trace_id for s in children)

    # the sweep: idle for 20 minutes, stopped; its ARR calls (on pool threads) are its children
    spans.clear()
    stack.advance(5 + 20 * 60)
    report = stack.sweep()
    assert report["counts"] == {"stop": 1}
    finished = spans.get_finished_spans()
    (sweep,) = [s for s in finished if s.name == "sweep"]
    assert sweep.parent is None and sweep.attributes["governor.sweep.outcome"] == "ok"
    assert sweep.attributes["governor.dry_run"] is False
    in_sweep = [s for s in finished if s.context.trace_id == sweep.context.trace_id and s is not sweep]
    assert {"ARR list", "ARR stop"} <= {s.name for s in in_sweep}
    assert any(s.attributes.get("db.system.name") == "azure.tables" for s in in_sweep)
    queries = [s for s in in_sweep if s.attributes.get("db.operation.name") == "query_entities"]
    assert queries and all(s.kind is SpanKind.CLIENT and s.name.startswith("query_entities ") for s in queries)
    # the health row the sweep leaves: one upsert outside a transaction, in the sweep's trace
    (health,) = [s for s in in_sweep if s.attributes.get("db.operation.name") == "upsert_entity"]
    assert health.kind is SpanKind.CLIENT and health.name == f"upsert_entity {health.attributes['db.collection.name']}"
    assert health.name.endswith("Health") and health.attributes["governor.table.partition"] == "sweep"
    assert health.attributes["db.system.name"] == "azure.tables" and "error.type" not in health.attributes
    assert all(s.attributes.get("arr.ms_cv") for s in in_sweep if s.name.startswith("ARR "))

    metrics = points(reader)
    project = {"governor.project": "alpha"}
    assert {name: units[name] for name in metrics} == {name: telemetry_names.UNITS[name] for name in metrics}
    assert units[telemetry.SWEEP_DURATION] == units[telemetry.HTTP_SERVER_DURATION] == "s"
    assert (units[telemetry.STOPPED], units[telemetry.SWEEPS]) == ("{session}", "{sweep}")
    assert ({**project, "governor.size": "Standard"}, 1) in metrics[telemetry.ADMITTED]
    assert ({**project, "governor.reason": refusal}, 1) in metrics[telemetry.REFUSED]
    assert ({**project, "governor.reason": "idle"}, 1) in metrics[telemetry.STOPPED]
    assert [a for a, _ in metrics[telemetry.SWEEPS]] == [{"governor.sweep.outcome": "ok", "governor.dry_run": False}]
    ((duration_dims, seconds),) = metrics[telemetry.SWEEP_DURATION]
    assert duration_dims == {"governor.sweep.outcome": "ok"} and 0 < seconds < 60  # seconds, not ms
    assert (project, 1) in metrics[telemetry.OPEN_SESSIONS]  # open when the sweep read the ledger
    ((metered_dims, metered),) = metrics[telemetry.METERED_TIME]
    assert metered_dims == project and metered >= 20 * 60  # seconds of ARR time
    cost = {a["governor.period"]: v for a, v in metrics[telemetry.COST] if a["governor.project"] == "alpha"}
    assert cost["day"] == cost["month"] > 0
    saved = stack.store.get_entry("alpha", stack.store.list_entries("alpha", include_closed=True)[0].session_id)
    assert ({**project, "governor.saving.kind": "lease"}, saved.saved_lease) in metrics[telemetry.SAVED]
    assert {a["governor.period"] for a, _ in metrics[telemetry.SAVINGS]} == {"day", "month"}
    # every dimension of the governor's own metrics is namespaced; the HTTP metric has the standard ones
    governor_metrics = [m for m in metrics if m.startswith("governor.")]
    assert all(k.startswith("governor.") for m in governor_metrics for a, _ in metrics[m] for k in a)
    served = [a for a, _ in metrics[telemetry.HTTP_SERVER_DURATION]]
    assert {
        "http.request.method": "POST",
        "url.scheme": "http",
        "http.route": "/api/projects/{project}/sessions",
        "http.response.status_code": 202,
    } in served
    assert all(a["http.response.status_code"] < 500 and "error.type" not in a for a in served)

    # logs: the dimensions travel in `extra`, not as JSON in the message
    (summary,) = [vars(r) for r in caplog.records if r.getMessage().startswith("sweep finished")]
    assert [summary[f"governor.sweep.{k}"] for k in ("outcome", "failed", "sessions")] == ["ok", 0, 1]
    (stop,) = [r for r in caplog.records if getattr(r, "governor.decision.action", None) == "stop"]
    named = [vars(stop)[k] for k in ("governor.project", "governor.reason", "governor.decision.outcome")]
    assert named == ["alpha", "idle", "ok"] and "{" not in stop.getMessage()
    # every dimension a governor record carries is in the governor's namespace, as on spans and metrics
    standard = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}  # (the last two: formatting)
    own = {k for r in caplog.records if r.name.startswith("governor") for k in vars(r)} - standard
    assert own and all(k.startswith("governor.") for k in own), own

    # no secret in any span or metric attribute
    secrets = [key, WEBHOOK_SECRET, stack.env["ARR_ACCOUNT_KEY"], stack.env["GOVERNOR_TABLES_CONNECTION"]]
    secrets.append(stack.env["GOVERNOR_TABLES_CONNECTION"].split("AccountKey=")[1].split(";")[0])
    values = [str(v) for s in spans.get_finished_spans() for v in s.attributes.values()]
    values += [str(v) for found in metrics.values() for attributes, _ in found for v in attributes.values()]
    assert values and not [v for v in values for secret in secrets if secret in v]
    assert policy.webhook_url not in values


def test_a_function_key_in_the_query_never_reaches_telemetry(stack, exported):
    """url.query is on the server span, its values redacted but for the parameters the routes read:
    `?code=` carries the Functions key, and neither it nor a bare `?<key>` reaches any attribute."""
    spans, reader = exported
    stack.project("alpha")
    key = stack.store.rotate_key("alpha")
    function_key = "fk" + secrets.token_urlsafe(24)
    route, params = "projects/alpha/sessions", {"project": "alpha"}
    listed = call("list_sessions", "GET", route, params, key, query=f"code={function_key}&includeClosed=true")
    assert listed.status_code == 200, listed.get_body()
    bare = call("list_sessions", "GET", route, params, key, query=function_key)
    assert bare.status_code == 200, bare.get_body()

    served = [s for s in spans.get_finished_spans() if s.name == "GET /api/projects/{project}/sessions"]
    assert [s.attributes["url.query"] for s in served] == ["code=REDACTED&includeClosed=true", "REDACTED=REDACTED"]
    values = [str(v) for s in spans.get_finished_spans() for v in s.attributes.values()]
    values += [str(v) for found in points(reader).values() for attributes, _ in found for v in attributes.values()]
    assert values and not [v for v in values if function_key in v]


def test_deleting_a_project_traces_each_row_it_deletes(stack, exported):
    """Deleting a project removes its row and its keys' last-use rows one by one, outside a
    transaction: each delete is a database client span like every other table operation."""
    spans, _ = exported
    stack.project("gone")
    stack.store.touch_key("gone", "ci", stack.clock())  # a key's last-use row, which goes with the project
    spans.clear()
    assert stack.store.delete_project("gone") and stack.store.get_project("gone") is None
    deletes = [s for s in spans.get_finished_spans() if s.attributes.get("db.operation.name") == "delete_entity"]
    assert sorted(s.attributes["governor.table.partition"] for s in deletes) == ["keyuse", "project"]
    table = deletes[0].attributes["db.collection.name"]
    assert table.endswith("Projects") and all(s.name == f"delete_entity {table}" for s in deletes)
    assert all(s.kind is SpanKind.CLIENT and s.attributes["db.system.name"] == "azure.tables" for s in deletes)


def test_a_table_is_created_in_its_own_span_and_one_that_exists_is_no_failure(stack, exported):
    """A process's first use of a table creates it if missing: a database client span of its own
    (`create_table`), not hidden in the operation that needed it; the 409 of a table that already
    exists (every process but the first) is an answer, not a failed dependency."""
    spans, _ = exported
    name = unique_prefix() + "Probe"
    connection = stack.env["GOVERNOR_TABLES_CONNECTION"]
    first, second = (TableServiceClient.from_connection_string(connection) for _ in range(2))  # two processes
    try:
        table_client(first, name)
        table_client(first, name)  # built once per process: no second call
        table_client(second, name)  # another process's client: the table exists
    finally:
        first.delete_table(name)
    created = [s for s in spans.get_finished_spans() if s.attributes.get("db.operation.name") == "create_table"]
    assert [s.name for s in created] == [f"create_table {name}"] * 2
    assert [s.attributes.get("db.response.status_code") for s in created] == [None, "409"]
    assert all(s.kind is SpanKind.CLIENT and s.attributes["db.collection.name"] == name for s in created)
    assert all(s.status.is_ok and "error.type" not in s.attributes for s in created)

    # a store's first read of a table: the creation is the read's sibling, not inside the read's span
    spans.clear()
    store = TableStore(connection, unique_prefix())
    try:
        assert store.get_project("alpha") is None
    finally:
        first.delete_table(store.tables.projects)
    finished = spans.get_finished_spans()
    (create,) = [s for s in finished if s.attributes.get("db.operation.name") == "create_table"]
    (read,) = [s for s in finished if s.attributes.get("db.operation.name") == "get_entity"]
    assert create.attributes["db.collection.name"] == read.attributes["db.collection.name"] == store.tables.projects
    assert create.parent == read.parent and create.end_time <= read.start_time


def test_with_telemetry_off_nothing_is_exported_and_nothing_breaks(stack, monkeypatch):
    telemetry.reset()
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    reset_context()
    stack.project("alpha")
    key = stack.store.rotate_key("alpha")
    reply = call(
        "request_session",
        "POST",
        "projects/alpha/sessions",
        {"project": "alpha"},
        key,
        {"size": "Standard", "maxLeaseTime": 30},
    )
    assert reply.status_code == 202 and not telemetry.enabled()
    stack.advance(5)
    assert stack.sweep()["outcome"] == "ok"
    telemetry.reset()
    reset_context()


def test_modes_follow_the_settings():
    from governor.settings import load

    assert telemetry.mode_of(load({})) == "off"
    with_string = {"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=00000000-0000-0000-0000-000000000000"}
    assert telemetry.mode_of(load(with_string)) == "azure"
    assert telemetry.mode_of(load({"GOVERNOR_TELEMETRY": "azure"})) == "off"  # nowhere to send it
    assert telemetry.mode_of(load({**with_string, "GOVERNOR_TELEMETRY": "off"})) == "off"
    assert telemetry.mode_of(load({"GOVERNOR_TELEMETRY": "file"})) == "file"


def test_the_file_exporter_writes_what_azure_would_get(stack, tmp_path):
    """`make run`'s default: spans, metrics and logs as JSON lines in a file (a real CLI process)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    stack.project("alpha")
    stack.admit(stack.project("alpha"), 30)
    stack.advance(5)
    path = tmp_path / "telemetry.jsonl"
    env = {**os.environ, **stack.env, "GOVERNOR_TELEMETRY": "file", "GOVERNOR_TELEMETRY_FILE": str(path)}
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-m", "governor", "sweep"], cwd=root, env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    names = {r.get("name") for r in records}
    assert {"sweep", "ARR list"} <= names
    assert any(r.get("attributes", {}).get("db.system.name") == "azure.tables" for r in records if "name" in r)
    metrics = {
        m["name"]
        for r in records
        for rm in r.get("resource_metrics", [])
        for sm in rm["scope_metrics"]
        for m in sm["metrics"]
    }
    assert {telemetry.SWEEPS, telemetry.SWEEP_DURATION, telemetry.OPEN_SESSIONS} <= metrics
    (summary,) = [r for r in records if str(r.get("body", "")).startswith("sweep finished")]
    named = summary["attributes"]
    assert named["governor.sweep.outcome"] == "ok" and named["governor.sweep.sessions"] == 1
