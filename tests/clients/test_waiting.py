"""Waiting for Ready and for connect against a scripted gate: never faster than every 5 s,
later when Retry-After says so, a deadline, and ended sessions said at once."""

from __future__ import annotations

import time

import pytest
from governor_client import ReadyTimeout, SessionEnded
from governor_client.client import MIN_POLL_SECONDS

from tests.clients.scripted_gate import Reply, problem

SESSION = "/projects/demo/sessions/s-1"
CONNECT = SESSION + "/connect"
STARTING = {"sessionId": "s-1", "status": "Starting", "state": "active"}
READY = {"sessionId": "s-1", "status": "Ready", "state": "active", "hostname": "h.example", "handshakePort": 50389}
TOKEN = "eyJhbGciOi.secret-token.sig"
BUNDLE = {
    "sessionId": "s-1",
    "accountId": "acc-1",
    "accountDomain": "westeurope.mixedreality.azure.com",
    "remoteRenderingDomain": "westeurope.mixedreality.azure.com",
    "hostname": "h.example",
    "handshakePort": 50389,
    "arrInspectorPort": 50390,
    "accessToken": TOKEN,
    "accessTokenExpiresOn": "2026-12-07T12:00:00Z",
    "connectAuth": "entra",
    "canStartSessions": False,
    "sessionConfiguration": {
        "AccountId": "acc-1",
        "AccountDomain": "westeurope.mixedreality.azure.com",
        "RemoteRenderingDomain": "westeurope.mixedreality.azure.com",
        "AccessToken": TOKEN,
    },
}


def test_polls_no_faster_than_every_5_s_and_later_when_retry_after_says_so(client, scripted):
    scripted.script(
        "GET",
        SESSION,
        Reply(200, STARTING, {"Retry-After": "1"}),  # asks for less than the floor: 5 s it is
        Reply(200, STARTING, {"Retry-After": "6"}),  # asks for more: honoured
        Reply(200, READY),
    )
    assert client.wait_ready("s-1", timeout=60)["hostname"] == "h.example"
    first, second = scripted.gaps("GET", SESSION)
    assert MIN_POLL_SECONDS <= first < MIN_POLL_SECONDS + 1.5
    assert 6.0 <= second < 7.5


def test_the_request_answer_counts_as_the_first_look(client, scripted):
    scripted.script("GET", SESSION, Reply(200, READY))
    asked = time.monotonic()
    assert client.wait_ready("s-1", timeout=60, view=STARTING)["status"] == "Ready"
    (poll,) = scripted.requests("GET", SESSION)
    assert poll.at - asked >= MIN_POLL_SECONDS


def test_a_deadline_shorter_than_the_next_poll_gives_up_without_polling(client, scripted):
    with pytest.raises(ReadyTimeout) as raised:
        client.wait_ready("s-1", timeout=3, view=STARTING)
    assert raised.value.reason == "ready-timeout" and raised.value.last_status == "Starting"
    assert scripted.requests() == []


@pytest.mark.parametrize("status", ["Error", "Expired", "Stopped"])
def test_an_ended_session_is_said_at_once(client, scripted, status):
    scripted.script("GET", SESSION, Reply(200, {**STARTING, "status": status}))
    with pytest.raises(SessionEnded) as raised:
        client.wait_ready("s-1", timeout=60)
    assert raised.value.session_status == status
    assert len(scripted.requests()) == 1


def test_connect_waits_out_not_ready_then_returns_the_bundle(client, scripted):
    scripted.script(
        "POST",
        CONNECT,
        problem(409, "not-ready", "the session is Starting", retry_after=5, sessionStatus="Starting"),
        Reply(200, BUNDLE, {"Cache-Control": "no-store"}),
    )
    bundle = client.connect("s-1", ready_timeout=60)
    assert scripted.gaps("POST", CONNECT)[0] >= 5.0
    assert (bundle.session_id, bundle.account_id, bundle.hostname, bundle.handshake_port) == (
        "s-1",
        "acc-1",
        "h.example",
        50389,
    )
    assert bundle.access_token == TOKEN and bundle.session_configuration == BUNDLE["sessionConfiguration"]
    assert bundle.can_start_sessions is False and bundle.connect_auth == "entra"
    assert TOKEN not in repr(bundle) and TOKEN not in str(bundle)
    assert bundle.to_answer() == BUNDLE and TOKEN in bundle.to_json()  # for the user's own terminal


def test_connect_without_a_token(client, scripted):
    answer = {k: v for k, v in BUNDLE.items() if not k.startswith("accessToken")}
    answer["sessionConfiguration"] = {k: v for k, v in BUNDLE["sessionConfiguration"].items() if k != "AccessToken"}
    scripted.script("POST", CONNECT, Reply(200, {**answer, "connectAuth": "none"}))
    bundle = client.connect("s-1")
    assert bundle.access_token is None and not bundle.has_token and "AccessToken" not in bundle.session_configuration
    assert bundle.to_answer() == {**answer, "connectAuth": "none"}


def test_connect_to_an_ended_session_names_its_status(client, scripted):
    scripted.script("POST", CONNECT, problem(409, "session-ended", "the session is Expired", sessionStatus="Expired"))
    with pytest.raises(SessionEnded) as raised:
        client.connect("s-1")
    assert (raised.value.status, raised.value.session_status) == (409, "Expired")
    assert len(scripted.requests()) == 1


def test_connect_gives_up_at_its_deadline(client, scripted):
    scripted.script("POST", CONNECT, problem(409, "not-ready", "Starting", retry_after=30, sessionStatus="Starting"))
    with pytest.raises(ReadyTimeout):
        client.connect("s-1", ready_timeout=10)
    assert len(scripted.requests()) == 1
