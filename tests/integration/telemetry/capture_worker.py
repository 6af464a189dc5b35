"""What `test_exporter_envelopes.py` runs in a process of its own (the Azure Monitor distro configures
process-wide providers): the function app's own handlers against the ARR emulator and Azurite, with
`APPLICATIONINSIGHTS_CONNECTION_STRING` pointing at a stand-in ingestion endpoint. In order:

1. an admin creates project `alpha` (a webhook with a secret) and its caller key (manage routes);
2. a session request whose ARR create fails with 500 (emulator faults): the gate answers 503;
3. a session request that is admitted, reserving 95 % of the day's budget (with the Functions key in
   its query, `?code=`);
4. reads (sampled at GOVERNOR_TRACE_SAMPLE_RATE, which the test sets to 0): the session list, and
   the session while ARR answers 500 (the gate answers 503 and logs a warning);
5. ARR's clock moves 20 minutes and the sweep timer runs while ARR answers every stop with 409:
   the idle session's stop fails, so the sweep ends with `failed: 1`;
6. a table transaction that fails (an insert of a row that exists: 409);
7. every provider is flushed.

It prints one JSON line: the secrets the test must not find in any envelope, and the ids it needs.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys

import azure.functions as func
from azure.functions.timer import TimerRequest

from tests.fixtures.emulator import EmulatorHandle

PROJECT = "alpha"
SESSIONS = "projects/alpha/sessions"


def handlers() -> dict:
    import function_app
    from governor.functions.openapi_doc import registered_functions

    return {f.get_function_name(): f.get_user_function() for f in registered_functions(function_app.app)}


def call(app: dict, name: str, method: str, route: str, params: dict, body=None, key: str | None = None, query=""):
    headers = {"Content-Type": "application/json", **({"X-Api-Key": key} if key else {})}
    request = func.HttpRequest(
        method=method,
        url=f"http://localhost/api/{route}" + (f"?{query}" if query else ""),
        headers=headers,
        route_params=params,
        body=json.dumps(body).encode() if body is not None else b"",
    )
    return app[name](request)


def flush() -> None:
    from opentelemetry import _logs, metrics, trace

    for provider in (trace.get_tracer_provider(), metrics.get_meter_provider(), _logs.get_logger_provider()):
        provider.force_flush()


def main() -> int:
    app = handlers()
    emulator = EmulatorHandle(os.environ["ARR_SERVICE_ENDPOINT"])
    webhook_secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    document = {
        "rates": {"Standard": "9.50"},
        "budget": {"daily": "10.00"},
        "maxLeaseMinutes": 120,
        "idleTimeoutMinutes": 15,
        "webhookUrl": "http://127.0.0.1:9/governor-hook",
        "webhookSecret": webhook_secret,
    }
    put = call(app, "manage_put_project", "PUT", f"manage/projects/{PROJECT}", {"project": PROJECT}, document)
    assert put.status_code in (200, 201), put.get_body()
    rotated = call(
        app,
        "manage_rotate_key",
        "POST",
        f"manage/projects/{PROJECT}/keys",
        {"project": PROJECT},
        {"revokeOthers": True},
    )
    assert rotated.status_code in (200, 201), rotated.get_body()
    key = json.loads(rotated.get_body())["key"]

    emulator.set_faults(rate=1.0, statuses=[500], retryAfter=0, methods=["PUT"], paths="/sessions/[^/?]+$")
    failed = call(
        app, "request_session", "POST", SESSIONS, {"project": PROJECT}, {"size": "Standard", "maxLeaseTime": 60}, key
    )
    assert failed.status_code == 503, failed.get_body()
    emulator.clear_faults()

    function_key = "fk" + secrets.token_urlsafe(24)  # as a client that puts the Functions key in the query
    admitted = call(
        app,
        "request_session",
        "POST",
        SESSIONS,
        {"project": PROJECT},
        {"size": "Standard", "maxLeaseTime": 60},
        key,
        query=f"code={function_key}",
    )
    assert admitted.status_code == 202, admitted.get_body()
    session_id = json.loads(admitted.get_body())["sessionId"]
    listed = call(app, "list_sessions", "GET", SESSIONS, {"project": PROJECT}, None, key)
    assert listed.status_code == 200, listed.get_body()
    emulator.set_faults(rate=1.0, statuses=[500], retryAfter=0, methods=["GET"], paths=f"/sessions/{session_id}$")
    route, params = f"{SESSIONS}/{session_id}", {"project": PROJECT, "sessionId": session_id}
    unreadable = call(app, "get_session", "GET", route, params, None, key)
    assert unreadable.status_code == 503, unreadable.get_body()
    emulator.clear_faults()

    emulator.advance(5 + 20 * 60)  # Ready, then 20 minutes without a heartbeat: idle
    emulator.set_faults(rate=1.0, statuses=[409], methods=["POST"], paths=r"/:stop$")
    app["sweep"](TimerRequest(past_due=False))
    emulator.clear_faults()

    from governor.bootstrap import get_context
    from governor.store.base import create_op

    store = get_context().store
    row = {"PartitionKey": "capture", "RowKey": "once"}
    store._submit(store.tables.health, [create_op(dict(row))])
    try:
        store._submit(store.tables.health, [create_op(dict(row))])  # the row exists: the transaction fails
    except Exception as exc:  # any failure will do: the test checks what was exported
        table_error = type(exc).__name__
    else:
        raise AssertionError("the second insert of the same row succeeded")

    flush()
    account = os.environ["ARR_ACCOUNT_ID"]
    out = {"key": key, "webhookSecret": webhook_secret, "sessionId": session_id, "accountId": account}
    out["functionKey"] = function_key
    print(json.dumps({**out, "tableError": table_error}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
