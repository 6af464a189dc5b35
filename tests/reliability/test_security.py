"""Security over the whole local stack (`python -m governor run`), over HTTP.

- Admin routes refuse project keys, however presented (X-Api-Key, x-functions-key, ?code=),
  and the ordinary function key; the master key is the control that proves the route exists.
- A whole scenario (sessions made, beaten, extended, stopped; refusals; a rotated key; ARR
  failing half of its calls; sweeps) leaves no secret in any log file or any table row: not the
  ARR account key, not the storage account key (Azurite's public one stands in for a real
  one), not an access token, not a project key (nor a near miss of one).

The cross-project access matrix lives in tests/integration/gate/test_isolation.py.
"""

from __future__ import annotations

import re
import time

import pytest
import requests

from governor.emulator import DEV_ACCOUNT_KEY
from governor.localhost import DEV_FUNCTION_KEY, DEV_MASTER_KEY
from governor.localhost.stack import AZURITE_KEY
from tests.fixtures.stack import start_stack

PROJECT, OTHER = "demo", "design-review"  # examples/projects.json, applied by the stack at start
ADMIN_ROUTES = [
    ("GET", "manage/projects"),
    ("GET", f"manage/projects/{PROJECT}"),
    ("PUT", f"manage/projects/{PROJECT}"),
    ("DELETE", f"manage/projects/{PROJECT}"),
    ("POST", f"manage/projects/{PROJECT}/keys"),
    ("GET", "dashboard"),
]
# the emulator's access tokens are JWTs with this fixed header; any token at all counts
TOKEN = re.compile(r"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9\.[A-Za-z0-9_-]+")


@pytest.fixture(scope="module")
def governor_stack(tmp_path_factory):
    # a sweep a second (the stack's default is every 5 s): the scenario waits for three of them
    running = start_stack(tmp_path_factory.mktemp("security") / "data", "--sweep-schedule", "* * * * * *")
    try:
        yield running
    finally:
        running.stop()


def as_caller(key: str) -> dict[str, str]:
    """A client's headers: the app's function key (the host's gate) and the project's caller key."""
    return {"x-functions-key": DEV_FUNCTION_KEY, "X-Api-Key": key}


def call(stack, method, route, headers=None, params=None, body=None) -> requests.Response:
    return requests.request(
        method,
        f"{stack.base_url}/{route}",
        headers=headers,
        params=params,
        json=body,
        timeout=30,
        allow_redirects=False,
    )


def test_admin_routes_refuse_project_keys(governor_stack):
    key = governor_stack.keys[PROJECT]
    attempts = {
        "no key": ({}, None),
        "project key as X-Api-Key": ({"X-Api-Key": key}, None),
        "project key as x-functions-key": ({"x-functions-key": key}, None),
        "project key as ?code=": ({}, {"code": key}),
        "function key": ({"x-functions-key": DEV_FUNCTION_KEY, "X-Api-Key": key}, None),
    }
    for method, route in ADMIN_ROUTES:
        for what, (headers, params) in attempts.items():
            response = call(
                governor_stack, method, route, headers, params, {"name": PROJECT} if method == "PUT" else None
            )
            assert response.status_code == 401, (method, route, what, response.status_code)
            assert PROJECT not in response.text, (method, route, what)
    # the control: the master key reaches them (read-only routes, so the project stays as it was)
    master = {"x-functions-key": DEV_MASTER_KEY}
    assert call(governor_stack, "GET", "manage/projects", master).status_code == 200
    assert call(governor_stack, "GET", f"manage/projects/{PROJECT}", master).json()["name"] == PROJECT
    assert call(governor_stack, "GET", "dashboard", master).status_code == 200
    assert call(governor_stack, "GET", f"projects/{PROJECT}/sessions", as_caller(key)).status_code == 200


def run_scenario(stack) -> list[str]:
    """Traffic of every kind; returns the project keys it saw (they must not be stored anywhere)."""
    key = stack.keys[PROJECT]
    master = {"x-functions-key": DEV_MASTER_KEY}
    caller = as_caller(key)
    rotated = call(stack, "POST", f"manage/projects/{OTHER}/keys", master, body={"revokeOthers": True})
    assert rotated.status_code == 201, rotated.text
    other_key = rotated.json()["key"]
    near_miss = key[:-1] + ("A" if key[-1] != "A" else "B")

    sessions = [
        call(stack, "POST", f"projects/{PROJECT}/sessions", caller, body={"size": "Standard", "maxLeaseTime": 30})
    ]
    sessions.append(
        call(
            stack,
            "POST",
            f"projects/{PROJECT}/sessions?code={key}",
            caller,
            body={"size": "Standard", "maxLeaseTime": 20},
        )
    )
    ids = [r.json()["sessionId"] for r in sessions if r.status_code == 202]
    assert ids, [r.text for r in sessions]
    refusals = [
        call(stack, "GET", f"projects/{PROJECT}/sessions", as_caller(near_miss)),
        call(stack, "GET", f"projects/{PROJECT}/sessions", as_caller(other_key)),
        call(stack, "GET", f"projects/{OTHER}/sessions", caller),
        call(stack, "POST", f"projects/{PROJECT}/sessions", caller, body={"size": "Premium", "maxLeaseTime": 9999}),
    ]
    assert all(400 <= r.status_code < 500 for r in refusals), [(r.status_code, r.text) for r in refusals]
    for sid in ids:
        assert call(stack, "POST", f"projects/{PROJECT}/sessions/{sid}/heartbeat", caller).status_code == 200
        assert call(stack, "GET", f"projects/{PROJECT}/sessions/{sid}", caller).status_code == 200
    assert call(stack, "PATCH", f"projects/{PROJECT}/sessions/{ids[0]}", caller, body={"maxLeaseTime": 60}).ok
    call(stack, "GET", f"projects/{PROJECT}/usage", caller)
    call(stack, "GET", f"projects/{PROJECT}/dashboard", caller)
    call(stack, "GET", f"projects/{OTHER}/sessions", as_caller(other_key))

    # ARR fails half of its calls for a while: error paths log too, and the sweep retries
    faults = f"{stack.emulator_url}/_emulator/faults"
    requests.put(faults, json={"rate": 0.5, "statuses": [401, 429, 500, 503]}, timeout=10).raise_for_status()
    for _ in range(4):
        call(stack, "GET", f"projects/{PROJECT}/sessions", caller)
        call(stack, "POST", f"projects/{PROJECT}/sessions", caller, body={"size": "Standard", "maxLeaseTime": 10})
    wait_for_sweeps(stack, 2)
    requests.delete(faults, timeout=10).raise_for_status()
    for sid in ids:
        call(stack, "DELETE", f"projects/{PROJECT}/sessions/{sid}", caller)
    wait_for_sweeps(stack, 1)
    return [key, other_key, near_miss]


def wait_for_sweeps(stack, count: int, timeout: float = 60) -> None:
    """Until the timer has swept `count` more times (this stack sweeps every second)."""
    seen, last = 0, None
    deadline = time.monotonic() + timeout
    while seen < count:
        assert time.monotonic() < deadline, "the sweep timer did not run"
        at = call(stack, "GET", "health").json().get("lastSweep", {}).get("at")
        if at and at != last:
            seen, last = seen + (last is not None), at
        time.sleep(0.5)


def table_text(stack) -> str:
    """Every row of every table of the stack's Azurite, as text."""
    from azure.data.tables import TableServiceClient

    from governor.localhost.stack import azurite_connection_string

    service = TableServiceClient.from_connection_string(azurite_connection_string(stack.azurite_port))
    rows = []
    for table in service.list_tables():
        rows += [f"{table.name} {dict(e)!r}" for e in service.get_table_client(table.name).list_entities()]
    assert any("audit" in r.lower() for r in rows), "no audit rows: the scenario wrote nothing to scan"
    return "\n".join(rows)


def test_no_secret_reaches_a_log_or_a_table(governor_stack):
    project_keys = run_scenario(governor_stack)
    tables = table_text(governor_stack)
    governor_stack.stop()  # flush and close every child's log
    logs = {p.name: p.read_text(errors="replace") for p in (governor_stack.data_dir / "logs").glob("*.log")}
    assert "host.log" in logs and "Executed" in logs["host.log"], sorted(logs)  # the scan reads real output
    secrets = {
        "ARR account key": DEV_ACCOUNT_KEY,
        "storage account key": AZURITE_KEY,
        **{f"project key {i}": k for i, k in enumerate(project_keys)},
    }
    hits = []
    for where, text in {**logs, "tables": tables}.items():
        hits += [(where, name) for name, secret in secrets.items() if secret in text]
        hits += [(where, "access token") for _ in TOKEN.finditer(text)]
    assert hits == []
    # controls, so that the scan cannot pass by looking for the wrong strings: the console (not a
    # log: keys of new projects are shown there once, by design) holds the project key, and the
    # token pattern matches a token the emulator issues
    assert project_keys[0] in (governor_stack.data_dir / "run-output.log").read_text(errors="replace")
    assert TOKEN.search(issued_token())


def issued_token() -> str:
    from governor.emulator import DEV_ACCOUNT_ID
    from tests.fixtures.emulator import start_emulator, stop_emulator

    process, url = start_emulator()  # the stack's emulator stopped with it; a fresh one issues alike
    try:
        auth = {"Authorization": f"Bearer {DEV_ACCOUNT_ID}:{DEV_ACCOUNT_KEY}"}
        response = requests.get(f"{url}/accounts/{DEV_ACCOUNT_ID}/token", headers=auth, timeout=10)
        response.raise_for_status()
        return response.text
    finally:
        stop_emulator(process)
