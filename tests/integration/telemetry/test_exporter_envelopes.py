"""What Application Insights would really receive: the function app runs with the Azure Monitor
distro and exporter as it ships, pointed at a stand-in ingestion endpoint on loopback
(`ingestion.py`), through `capture_worker.py` (a failed ARR create, an admitted session, reads at
trace sample rate 0, a sweep whose stop ARR refuses, a failed table transaction). Every alert rule
of infra/main.bicep and every query of docs/deploy.md is then checked against the envelopes: the
fields and values each filters on or shows arrive. No secret is in any byte sent."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from governor import __version__
from tests.fixtures.azurite import DEV_KEY, azurite_env, unique_prefix
from tests.integration.telemetry.ingestion import Ingestion
from tests.integration.telemetry.kusto import Query

ROOT = Path(__file__).resolve().parents[3]
WORKER = "tests.integration.telemetry.capture_worker"


def alert_queries() -> dict[str, str]:
    """Each alert rule's query, as infra/main.bicep writes it (Bicep interpolations stay)."""
    text = (ROOT / "infra" / "main.bicep").read_text(encoding="utf-8")
    block = text[text.index("var alertRules = [") :]
    block = block[: block.index("\n]\n")]
    names = re.findall(r"^\s*name: '([^']+)'", block, re.MULTILINE)
    queries = re.findall(r"^\s*query: '((?:[^'\\]|\\.)*)'", block, re.MULTILINE)
    assert len(names) == len(queries) == 4, (names, queries)
    return dict(zip(names, [q.replace("\\'", "'") for q in queries], strict=True))


def documented_queries() -> list[str]:
    """Every query of docs/deploy.md's kusto blocks (a query starts at an unindented line)."""
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    queries: list[str] = []
    for block in re.findall(r"```kusto\n(.*?)```", text, re.DOTALL):
        for line in block.splitlines():
            if line.strip() and not line[0].isspace() and not line.startswith("|"):
                queries.append(line)
            elif line.strip():
                queries[-1] += " " + line.strip()
    return queries


@pytest.fixture(scope="module")
def captured(emulator_process, azurite):
    emulator_process.reset()
    with Ingestion() as ingestion:
        env = {
            **os.environ,
            **emulator_process.env(),
            **azurite_env(unique_prefix(), azurite),
            "ARR_RETRY_TOTAL_SECONDS": "2",
            "ARR_HTTP_TIMEOUT_SECONDS": "5",
            "GOVERNOR_GATE_READ_SECONDS": "0",  # every read asks ARR
            "GOVERNOR_WEBHOOK_ALLOW_LOOPBACK_HTTP": "true",
            "GOVERNOR_TELEMETRY": "auto",
            "GOVERNOR_TRACE_SAMPLE_RATE": "0",  # reads: none kept
            "APPLICATIONINSIGHTS_CONNECTION_STRING": ingestion.connection_string,
            # nothing leaves loopback: no SDK statistics, no remote configuration
            "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
            "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
        }
        env.pop("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", None)
        done = subprocess.run(
            [sys.executable, "-m", WORKER], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
        worker = json.loads(done.stdout.strip().splitlines()[-1])
    worker["accountKey"] = emulator_process.account_key
    assert ingestion.envelopes and set(ingestion.paths) <= {"/v2.1/track", "/v2/track"}, ingestion.paths
    return ingestion.envelopes, ingestion.bodies, worker


def base(envelope: dict) -> dict:
    return envelope["data"]["baseData"]


def of_type(envelopes: list[dict], base_type: str) -> list[dict]:
    return [e for e in envelopes if e["data"]["baseType"] == base_type]


@pytest.mark.parametrize("rule", sorted(alert_queries()))
def test_every_alert_rule_filters_on_what_the_exporter_sends(captured, rule):
    envelopes, _, _ = captured
    query = Query(alert_queries()[rule])
    assert query.filters or query.dimensions, f"{rule}: nothing to check in {query.text!r}"
    matching = query.matching(envelopes)
    assert matching, f"{rule}: no {query.table} envelope passes {[f[3] for f in query.filters]}"
    assert [e for e in matching if not query.missing(e)], f"{rule}: {query.missing(matching[0])} missing"


@pytest.mark.parametrize("text", documented_queries(), ids=lambda t: t[:60])
def test_every_documented_query_finds_what_it_shows(captured, text):
    envelopes, _, _ = captured
    query = Query(text)
    matching = query.matching(envelopes)
    assert matching, f"no {query.table} envelope passes {[f[3] for f in query.filters]}"
    assert [e for e in matching if not query.missing(e)], f"{query.missing(matching[0])} missing from {text!r}"


def test_the_queries_checked_are_the_ones_the_issue_names():
    documented = " ".join(documented_queries())
    assert "toint(resultCode) >= 400" in documented and 'type == "azure.tables" and success == false' in documented
    assert 'message startswith "sweep finished"' in documented
    assert set(alert_queries()) == {"sweep-missing", "sweep-failed-actions", "budget-90", "gate-5xx"}


def test_arr_calls_are_http_dependencies_with_status_and_target(captured):
    envelopes, _, worker = captured
    arr = [e for e in of_type(envelopes, "RemoteDependencyData") if "arr.operation" in base(e).get("properties", {})]
    sent = [e for e in arr if base(e)["type"] == "HTTP"]  # each request on the wire
    by_code = {(base(e)["properties"]["arr.operation"], base(e)["resultCode"]): base(e) for e in sent}
    failed_create, refused_stop = by_code[("create", "500")], by_code[("stop", "409")]
    # the failed create was retried: every attempt a dependency of its own under the one operation
    creates = [e for e in sent if base(e)["properties"]["arr.operation"] == "create" and base(e)["resultCode"] == "500"]
    assert len(creates) >= 2 and len({e["tags"]["ai.operation.parentId"] for e in creates}) == 1
    assert len({base(e)["id"] for e in creates}) == len(creates)  # (resend_count is not a custom dimension)
    (operation,) = [e for e in arr if base(e)["id"] == creates[0]["tags"]["ai.operation.parentId"]]
    assert base(operation)["name"] == "ARR create" and base(operation)["type"] == "InProc"
    assert base(operation)["success"] is False
    for dependency in (failed_create, refused_stop):
        assert dependency["type"] == "HTTP" and dependency["success"] is False
        assert re.fullmatch(r"127\.0\.0\.1:\d+", dependency["target"]), dependency["target"]
        assert dependency["properties"]["arr.ms_cv"] and dependency["properties"]["arr.account"] == "default"
        assert dependency["data"].endswith("?api-version=2021-01-01"), dependency["data"]
    assert refused_stop["name"] == f"POST /accounts/{worker['accountId']}/sessions/{worker['sessionId']}/:stop"
    ok = [d for (op, code), d in by_code.items() if op in ("list", "token") and code == "200"]
    assert ok and all(d["success"] is True and d["type"] == "HTTP" for d in ok)
    # no HTTP library reports an ARR call a second time: every dependency on ARR's host is an ARR span
    target = failed_create["target"]
    on_arr = [e for e in of_type(envelopes, "RemoteDependencyData") if base(e).get("target") == target]
    assert all("arr.operation" in base(e).get("properties", {}) for e in on_arr)


def test_table_transactions_are_database_dependencies_naming_their_table(captured):
    envelopes, _, _ = captured
    tables = [base(e) for e in of_type(envelopes, "RemoteDependencyData") if base(e).get("type") == "azure.tables"]
    assert tables
    for dependency in tables:
        assert re.fullmatch(r"127\.0\.0\.1:\d+\|devstoreaccount1", dependency["target"]), dependency["target"]
        operation, table = dependency["name"].rsplit(" ", 1)
        assert operation == dependency["data"] and re.fullmatch(r"\w+(Ledger|Projects|Health|Audit|History)", table)
    (failed,) = [d for d in tables if d["success"] is False]
    assert failed["name"].startswith("create ") and failed["name"].endswith("Health")
    assert failed["properties"] == {"governor.table.partition": "capture", "governor.table.operations": "1"}
    (exception,) = [
        e for e in of_type(envelopes, "ExceptionData") if e["tags"]["ai.operation.parentId"] == failed["id"]
    ]
    assert base(exception)["exceptions"][0]["typeName"].endswith("TableTransactionError")


def test_a_failed_sweep_arrives_whole(captured):
    envelopes, _, _ = captured
    (summary,) = [e for e in of_type(envelopes, "MessageData") if base(e)["message"].startswith("sweep finished")]
    dimensions = base(summary)["properties"]
    named = [dimensions[f"governor.sweep.{k}"] for k in ("outcome", "failed", "counts")]
    assert named == ["errors", "1", "stop 1"]
    # the sweep's trace is kept and complete: the span, ARR's list, the refused stop, its transactions
    (sweep,) = [e for e in of_type(envelopes, "RemoteDependencyData") if base(e)["name"] == "sweep"]
    assert base(sweep)["properties"]["governor.sweep.outcome"] == "errors"
    operation = sweep["tags"]["ai.operation.id"]
    assert summary["tags"]["ai.operation.id"] == operation
    inside = [base(e) for e in of_type(envelopes, "RemoteDependencyData") if e["tags"]["ai.operation.id"] == operation]
    operations = {d["properties"].get("arr.operation") for d in inside}
    assert {"list", "stop"} <= operations and any(d["type"] == "azure.tables" for d in inside)
    assert all("sampleRate" not in e for e in envelopes if e["tags"].get("ai.operation.id") == operation)
    # the timer's invocation is a FaaS server span, the sweep's parent: a request named after its function
    (invocation,) = [e for e in of_type(envelopes, "RequestData") if base(e)["name"] == "sweep"]
    assert (
        invocation["tags"]["ai.operation.id"] == operation
        and sweep["tags"]["ai.operation.parentId"] == base(invocation)["id"]
    )
    faas = {k: v for k, v in base(invocation)["properties"].items() if k.startswith("faas.")}
    assert faas == {"faas.trigger": "timer", "faas.coldstart": "False", "faas.cron": "0 * * * * *"}


def test_reads_at_rate_0_leave_no_trace_but_their_logs_and_metrics_arrive(captured):
    envelopes, _, _ = captured
    requests = [base(e) for e in of_type(envelopes, "RequestData")]
    names = {(r["name"], r["responseCode"]) for r in requests}
    assert ("POST /api/projects/{project}/sessions", "202") in names  # the admission: a write, always kept
    assert ("POST /api/projects/{project}/sessions", "503") in names
    assert ("PUT /api/manage/projects/{project}", "201") in names
    # url.scheme, url.path and url.query give the request its URL, the function key redacted
    admission = next(r for r in requests if r["name"] == "POST /api/projects/{project}/sessions" and "?" in r["url"])
    assert admission["url"].endswith("/api/projects/alpha/sessions?code=REDACTED"), admission
    assert (admission["properties"]["faas.trigger"], admission["properties"]["faas.coldstart"]) == ("http", "False")
    (first,) = [r for r in requests if r["properties"].get("faas.coldstart") == "True"]  # the process's first
    assert first["name"] == "PUT /api/manage/projects/{project}"
    assert {e["tags"].get("ai.application.ver") for e in of_type(envelopes, "RequestData")} == {__version__}
    assert not [r for r in requests if r["name"].startswith("GET ")]  # both reads were dropped, whole:
    dependencies = [base(e) for e in of_type(envelopes, "RemoteDependencyData")]
    assert not [d for d in dependencies if d["properties"].get("arr.operation") == "get" and d["resultCode"] == "500"]
    spans = ("RequestData", "RemoteDependencyData", "ExceptionData")
    kept = {e["tags"]["ai.operation.id"] for e in envelopes if e["data"]["baseType"] in spans}
    warnings = [e for e in of_type(envelopes, "MessageData") if base(e)["message"].startswith("ArrUnavailable")]
    assert len(warnings) == 2  # the failed create's and the unreadable read's
    assert [w for w in warnings if w["tags"]["ai.operation.id"] not in kept]  # a log of a dropped trace
    # http.server.request.duration counts the read whose trace was not kept: the exporter sends it as
    # Application Insights' pre-aggregated request metric (result code only; not a customMetrics row)
    served = [
        base(e)["properties"]
        for e in of_type(envelopes, "MetricData")
        if base(e)["metrics"][0]["name"] == "http.server.request.duration"
    ]
    assert served and all(p["_MS.MetricId"] == "requests/duration" for p in served)
    assert {"503", "202"} <= {p["request/resultCode"] for p in served}


def test_no_metric_dimension_is_bare(captured):
    envelopes, _, _ = captured
    custom = [
        base(e) for e in of_type(envelopes, "MetricData") if base(e)["metrics"][0]["name"].startswith("governor.")
    ]
    assert custom
    assert [(m["metrics"][0]["name"], k) for m in custom for k in m.get("properties", {}) if "." not in k] == []


def test_no_secret_reaches_any_envelope(captured):
    _, bodies, worker = captured
    secrets = [worker["key"], worker["webhookSecret"], worker["accountKey"], DEV_KEY, worker["functionKey"]]
    # a key is gk_<id>_<secret>, and the secret may hold "_" itself: split twice from the left
    secrets += [worker["key"].split("_", 2)[2], worker["webhookSecret"].removeprefix("whsec_")]
    sent = "\n".join(bodies)
    assert len(sent) > 10_000
    assert [s for s in secrets if s in sent] == []
    assert "AccessToken" not in sent and "Authorization" not in sent and "Bearer" not in sent
    assert not re.search(r"eyJ[\w-]{10,}\.[\w-]{10,}\.", sent)  # no JWT (ARR's access token is one)
    assert "governor-hook" not in sent  # the project's webhook URL


def test_the_budget_gauge_reaches_the_budget_alert(captured):
    envelopes, _, _ = captured
    text = (ROOT / "infra" / "main.bicep").read_text(encoding="utf-8")
    threshold = int(re.search(r"param budgetAlertPercent int = (\d+)", text)[1])
    used = [
        (base(e)["properties"], base(e)["metrics"][0]["value"])
        for e in of_type(envelopes, "MetricData")
        if base(e)["metrics"][0]["name"] == "governor.budget.utilization"
    ]
    day = [value for dimensions, value in used if dimensions == {"governor.project": "alpha", "governor.period": "day"}]
    assert day and min(day) == 0.95 and min(day) >= threshold / 100.0  # 9.50 of 10.00 reserved: a ratio
