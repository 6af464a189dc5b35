"""The request's placement fields in the client library: `regions` and `auto_retry` are sent as
`regions` and `autoRetry` (only when given), by `request` and by `session`; and against the real
gate, a session asked for with `auto_retry` lands in the next region when the first has no server."""

from __future__ import annotations

import pytest
import requests
from governor_client import GovernorClient

from tests.clients.scripted_gate import Reply
from tests.clients.test_against_the_gate import truth, wait_until
from tests.fixtures.stack import FUNCTION_KEY, MASTER_KEY

SESSIONS = "/projects/demo/sessions"
STARTING = {"sessionId": "s-1", "status": "Starting", "state": "active", "leaseMinutes": 30}
READY = {**STARTING, "status": "Ready", "hostname": "h.example"}
PLACED = {
    "allowedSizes": ["Standard"],
    "rates": {"Standard": "3.00"},
    "budget": {"daily": "20.00"},
    "maxLeaseMinutes": 60,
    "placement": ["westeurope", "japaneast"],
}


def test_regions_and_auto_retry_are_sent_as_the_gate_names_them(client, scripted):
    scripted.script("POST", SESSIONS, Reply(202, STARTING))
    client.request("Standard", 30, regions=(r for r in ("japaneast", "westeurope")), auto_retry=True)
    (post,) = scripted.requests("POST", SESSIONS)
    assert post.body == {
        "size": "Standard",
        "maxLeaseTime": 30,
        "regions": ["japaneast", "westeurope"],
        "autoRetry": True,
    }


def test_neither_is_sent_unless_given(client, scripted):
    scripted.script("POST", SESSIONS, Reply(202, STARTING), Reply(202, STARTING))
    client.request("Standard", 30)
    client.request("Standard", 30, regions=None, auto_retry=False)
    assert [p.body for p in scripted.requests("POST", SESSIONS)] == [{"size": "Standard", "maxLeaseTime": 30}] * 2


def test_one_string_for_regions_is_refused_before_any_request(client, scripted):
    with pytest.raises(TypeError, match="list of account names"):
        client.request("Standard", 30, regions="westeurope")
    with pytest.raises(TypeError, match="list of account names"):
        client.session("Standard", 30, regions="westeurope")
    assert scripted.requests() == []


def test_a_session_sends_them_with_its_request(client, scripted):
    scripted.script("POST", SESSIONS, Reply(202, READY))
    scripted.script("DELETE", SESSIONS + "/s-1", Reply(200, {**READY, "status": "Stopped", "state": "closed"}))
    with client.session("Standard", 30, regions=["westeurope"], auto_retry=True, heartbeat_seconds=60):
        pass
    (post,) = scripted.requests("POST", SESSIONS)
    assert (post.body["regions"], post.body["autoRetry"]) == (["westeurope"], True)


@pytest.fixture
def placed(governor):
    """A project whose placement is westeurope, then japaneast (the local stack's regions), with
    no Standard server left in westeurope; the servers are put back afterwards."""
    from governor.localhost.regions import REGIONS

    manage = f"{governor.base_url}/manage/projects/placed"
    requests.put(manage, json=PLACED, headers=MASTER_KEY, timeout=30).raise_for_status()
    rotated = requests.post(f"{manage}/keys", json={"revokeOthers": True}, headers=MASTER_KEY, timeout=30)
    rotated.raise_for_status()
    capacity = f"{governor.emulator_url}/_emulator/capacity"
    requests.put(capacity, json={"limits": {REGIONS["westeurope"]: {"Standard": 0}}}, timeout=10).raise_for_status()
    try:
        yield GovernorClient(
            governor.base_url, rotated.json()["key"], "placed", function_key=FUNCTION_KEY["x-functions-key"]
        )
    finally:
        requests.put(capacity, json={"limits": {}}, timeout=10)


def test_with_auto_retry_the_session_lands_in_the_next_region(governor, placed):
    from governor.localhost.regions import REGIONS

    with placed.session(
        "Standard", 30, regions=["westeurope", "japaneast"], auto_retry=True, heartbeat_seconds=1, ready_timeout=60
    ) as s:
        attempt = s.view["sessionId"]  # the attempt that stands for the id the request answered with
        assert (s.view["status"], s.view["account"]) == ("Ready", "japaneast")
        assert attempt != s.session_id
        assert [(p["account"], p["error"]) for p in s.view["previousAttempts"]] == [("westeurope", "capacity")]
        bundle = s.connect()
        assert (bundle.session_id, bundle.account_id) == (attempt, REGIONS["japaneast"])
        wait_until(lambda: s.view.get("lastHeartbeat") is not None, 10, "a heartbeat")
    assert (s.view["sessionId"], s.view["status"]) == (attempt, "Stopped")
    assert truth(governor, attempt)["status"] == "Stopped"
    assert truth(governor, s.session_id)["status"] == "Error"  # ARR had no server in westeurope
