"""Gate integration fixtures: the function app wired to Azurite and the ARR emulator."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import azure.functions as func
import pytest

from governor.bootstrap import reset_context
from governor.core.model import MICROS, ProjectPolicy, VmSize
from tests.fixtures.clock import TEST_SECONDS, clear_of_utc_midnight

RATE = 6 * MICROS  # per hour: 0.1 per minute, so costs are easy to read


def functions() -> dict:
    """The registered functions by name (not app.get_functions(): it may run only once per app)."""
    import function_app
    from governor.functions.openapi_doc import registered_functions

    return {f.get_function_name(): f for f in registered_functions(function_app.app)}


@dataclass
class Reply:
    status: int
    headers: dict
    body: object
    mimetype: str | None = None

    @property
    def reason(self) -> str | None:
        if isinstance(self.body, dict) and str(self.body.get("type", "")).startswith("urn:arr-lease-governor:"):
            return self.body["type"].rsplit(":", 1)[-1]
        return None


class Gate:
    def __init__(self, store, emulator):
        self.store = store
        self.emulator = emulator
        self.functions = functions()

    def call(self, name, method, route, route_params=None, body=None, key=None, headers=None, params=None) -> Reply:
        headers = dict(headers or {})
        if key is not None:
            headers["X-Api-Key"] = key
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        request = func.HttpRequest(
            method=method,
            url=f"http://localhost/api/{route}",
            headers=headers,
            route_params=route_params or {},
            params=params or {},
            body=body or b"",
        )
        response = self.functions[name].get_user_function()(request)
        raw = response.get_body()
        parsed = json.loads(raw) if raw else None
        return Reply(response.status_code, dict(response.headers), parsed, response.mimetype)

    # the client routes, by meaning
    def create(self, project, key, body=None, **kw) -> Reply:
        body = {"size": "Standard", "maxLeaseTime": 60} if body is None else body
        route = f"projects/{project}/sessions"
        return self.call("request_session", "POST", route, {"project": project}, body, key, **kw)

    def list(self, project, key, **kw) -> Reply:
        return self.call("list_sessions", "GET", f"projects/{project}/sessions", {"project": project}, key=key, **kw)

    def get(self, project, key, sid) -> Reply:
        params = {"project": project, "sessionId": sid}
        return self.call("get_session", "GET", f"projects/{project}/sessions/{sid}", params, key=key)

    def heartbeat(self, project, key, sid) -> Reply:
        params = {"project": project, "sessionId": sid}
        return self.call("heartbeat_session", "POST", f"projects/{project}/sessions/{sid}/heartbeat", params, key=key)

    def extend(self, project, key, sid, body=None) -> Reply:
        params = {"project": project, "sessionId": sid}
        return self.call("extend_session", "PATCH", f"projects/{project}/sessions/{sid}", params, body, key)

    def connect(self, project, key, sid) -> Reply:
        params = {"project": project, "sessionId": sid}
        return self.call("connect_session", "POST", f"projects/{project}/sessions/{sid}/connect", params, key=key)

    def stop(self, project, key, sid) -> Reply:
        params = {"project": project, "sessionId": sid}
        return self.call("stop_session", "DELETE", f"projects/{project}/sessions/{sid}", params, key=key)

    def usage(self, project, key, params=None) -> Reply:
        return self.call(
            "project_usage", "GET", f"projects/{project}/usage", {"project": project}, key=key, params=params
        )

    def project(self, name="alpha", **overrides) -> str:
        """Store a project and return its caller key."""
        fields = {
            "name": name,
            "allowed_sizes": frozenset({VmSize.STANDARD}),
            "rates": {VmSize.STANDARD: RATE, VmSize.PREMIUM: 2 * RATE},
            "daily_budget": 100 * MICROS,
            "max_concurrent": 3,
            "max_lease": timedelta(hours=2),
            "hard_max_duration": timedelta(hours=3),
            "extension_step": timedelta(minutes=30),
        }
        self.store.put_project(ProjectPolicy(**(fields | overrides)))
        return self.store.rotate_key(name)

    def settle(self) -> None:
        """Write the activations the gate deferred (they ride a project's next transaction, or
        a timer's within a second): the ledger rows then say what the answers already said."""
        from governor.bootstrap import get_context

        get_context().store.flush()

    def open_sessions_in_arr(self) -> list[dict]:
        return [s for s in self.emulator.truth() if s["status"] in ("Starting", "Ready")]


@pytest.fixture
def gate_env(monkeypatch, azurite, table_prefix, emulator):
    clear_of_utc_midnight(TEST_SECONDS)  # the gate runs on the real clock: its tests start clear of midnight
    env = {
        **emulator.env(),
        "ARR_API_VERSION": "2021-01-01",
        "ARR_RETRY_TOTAL_SECONDS": "1",
        "ARR_HTTP_TIMEOUT_SECONDS": "5",
        "GOVERNOR_TABLES_CONNECTION": azurite.connection_string,
        "GOVERNOR_TABLE_PREFIX": table_prefix,
        # These tests jump the emulator's virtual clock between calls; the read cache's bound is
        # on the instance's real clock, so they ask ARR on every read (test_read_cache.py covers it).
        "GOVERNOR_GATE_READ_SECONDS": "0",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("GOVERNOR_ARR_ACCOUNTS", "WEBSITE_AUTH_ENABLED", "WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME"):
        monkeypatch.delenv(name, raising=False)
    reset_context()
    yield env
    emulator.clear_faults()
    reset_context()


@pytest.fixture
def gate(gate_env, store, emulator) -> Gate:
    return Gate(store, emulator)
