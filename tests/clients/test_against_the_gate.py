"""The client library against the real gate: the local stack `make run` starts (Azurite, the ARR
emulator at x60, the project's Functions host), with the example projects' `demo`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import requests
from governor_client import GovernorClient, GovernorError, SessionEnded

LEASE = 30  # minutes of ARR time: half a minute at x60


def truth(governor, session_id: str) -> dict:
    """The emulator's own record of a session (its admin route, not the gate)."""
    sessions = requests.get(f"{governor.emulator_url}/_emulator/sessions", timeout=10).json()["sessions"]
    return next(s for s in sessions if s["id"] == session_id)


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s")


def test_a_session_from_request_to_stop(governor, demo):
    """Request, Ready, connect (the headset connects with the bundle's token; a second device is
    refused, as ARR lets one device at a time connect), heartbeat, stop; and no secret is left behind."""
    with demo.session("Standard", LEASE, heartbeat_seconds=1) as s:
        ready = s.view
        assert ready["status"] == "Ready" and ready["hostname"]
        bundle = s.connect()
        handshake = f"{governor.emulator_url}/_emulator/sessions/{bundle.session_id}/connect"
        auth = {"Authorization": f"Bearer {bundle.session_configuration['AccessToken']}"}
        first = requests.post(handshake, json={"device": "hololens-1"}, headers=auth, timeout=10)
        assert first.status_code == 200, first.text
        second = requests.post(handshake, json={"device": "hololens-2"}, headers=auth, timeout=10)
        assert second.status_code == 409 and "one device at a time" in second.text
        wait_until(lambda: s.view.get("lastHeartbeat") is not None, 10, "a heartbeat")
        assert truth(governor, s.session_id)["status"] == "Ready"
    assert s.view["state"] == "closed" and s.view["status"] == "Stopped"
    assert truth(governor, s.session_id)["status"] == "Stopped"

    assert bundle.session_id == s.session_id
    assert (bundle.hostname, bundle.handshake_port, bundle.arr_inspector_port) == (
        ready["hostname"],
        ready["handshakePort"],
        ready["arrInspectorPort"],
    )
    assert bundle.connect_auth == "entra" and bundle.can_start_sessions is False and bundle.has_token
    assert bundle.session_configuration == {
        "AccountId": bundle.account_id,
        "AccountDomain": bundle.account_domain,
        "RemoteRenderingDomain": bundle.remote_rendering_domain,
        "AccessToken": bundle.access_token,
    }
    assert bundle.access_token not in repr(bundle)
    # the caller key and the token reach no log, no table (Azurite's files) and no telemetry
    time.sleep(1.5)  # Azurite writes its files about once a second
    for path in governor.data_dir.rglob("*"):
        if path.is_file() and path.name != "run-output.log":  # the console, where make run shows new keys once
            text = path.read_bytes()
            assert bundle.access_token.encode() not in text, path
            assert governor.keys["demo"].encode() not in text, path


def test_a_retried_request_is_the_same_session(governor, demo):
    first = demo.request("Standard", LEASE, idempotency_key="client-lib-test-1")
    try:
        again = demo.request("Standard", LEASE, idempotency_key="client-lib-test-1")
        assert again["sessionId"] == first["sessionId"] and again.get("replayed") is True
        mine = [s for s in demo_sessions(demo) if s["sessionId"] == first["sessionId"]]
        assert len(mine) == 1
    finally:
        demo.stop(first["sessionId"])


def demo_sessions(client: GovernorClient) -> list[dict]:
    return client._transport.call("GET", client._path()).body["sessions"]


def test_the_heartbeat_extends_when_the_gate_suggests_it(governor, demo):
    # demo: threshold 10 min, step 30 min. A 14-minute lease is within the threshold after 4 s at
    # x60, about when the wait for Ready (its 5 s poll floor) ends.
    with demo.session("Standard", 14, heartbeat_seconds=1) as s:
        wait_until(lambda: s.extensions, 30, "an extension")
        extended = s.refresh()
        assert extended["leaseMinutes"] > 14 and extended["extensions"] == 1
        assert s.heartbeat_error is None
    assert truth(governor, s.session_id)["maxLeaseMinutes"] == extended["leaseMinutes"]


def test_an_exception_in_the_block_stops_the_session(governor, demo):
    with pytest.raises(RuntimeError, match="app crashed"), demo.session("Standard", LEASE) as s:
        raise RuntimeError("app crashed")
    assert demo.get(s.session_id)["state"] == "closed"
    assert truth(governor, s.session_id)["status"] == "Stopped"


def test_a_session_stopped_elsewhere_ends_the_heartbeat_and_the_block_still_exits_cleanly(governor, demo):
    with demo.session("Standard", LEASE, heartbeat_seconds=1) as s:
        demo.stop(s.session_id)  # an operator, or another tool with the same key
        assert s.ended.wait(10)
        assert (s.heartbeat_error.status, s.heartbeat_error.reason) == (404, "not-found")
    assert s.view["state"] == "closed"  # the exit's stop answered the closed session again


def test_connect_to_a_stopped_session_says_it_ended(demo):
    view = demo.request("Standard", LEASE)
    demo.stop(view["sessionId"])
    with pytest.raises(SessionEnded) as raised:
        demo.connect(view["sessionId"])
    assert (raised.value.status, raised.value.reason, raised.value.session_status) == (409, "session-ended", "Stopped")


def test_refusals_are_raised_with_the_gates_reason(governor, demo):
    with pytest.raises(GovernorError) as too_long:
        demo.request("Standard", 240)  # demo's max lease is 120 minutes
    assert (too_long.value.status, too_long.value.reason) == (422, "lease-too-long")

    stranger = GovernorClient(demo.base_url, "not-a-key-of-demo", "demo", function_key=demo_function_key(governor))
    with pytest.raises(GovernorError) as forbidden:
        stranger.request("Standard", LEASE)
    assert (forbidden.value.status, forbidden.value.reason) == (403, "forbidden")
    assert "not-a-key-of-demo" not in str(forbidden.value) + json.dumps(forbidden.value.problem)

    with pytest.raises(GovernorError) as unknown:
        demo.get("0" * 36)
    assert (unknown.value.status, unknown.value.reason) == (404, "not-found")


def demo_function_key(governor) -> str:
    from tests.fixtures.stack import FUNCTION_KEY

    return FUNCTION_KEY["x-functions-key"]


def test_the_command_line_requests_connects_and_stops(governor):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVERNOR_")}
    env.update(
        GOVERNOR_URL=governor.base_url,
        GOVERNOR_PROJECT="demo",
        GOVERNOR_KEY=governor.keys["demo"],
        GOVERNOR_FUNCTION_KEY=demo_function_key(governor),
    )

    def cli(*args: str) -> dict:
        argv = [sys.executable, "-m", "governor_client", *args]
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    ready = cli("request", "--size", "Standard", "--lease", "00:30:00")
    sid = ready["sessionId"]
    try:
        assert ready["status"] == "Ready"
        bundle = cli("connect", "--session-id", sid)
        assert bundle["sessionId"] == sid and bundle["sessionConfiguration"]["AccessToken"] == bundle["accessToken"]
    finally:
        stopped = cli("stop", "--session-id", sid)
    assert stopped["state"] == "closed"
