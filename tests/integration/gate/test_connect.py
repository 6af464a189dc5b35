"""The connect route: what a client app needs to connect to its Ready session, and nothing it
could use to start sessions around the gate (unless a deployment chose `key`, and then it says so)."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from governor.bootstrap import reset_context


def _claims(token: str) -> dict:
    segment = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


@pytest.fixture
def key_mode(gate_env, monkeypatch):
    monkeypatch.setenv("ARR_CONNECT_AUTH", "key")
    reset_context()


def _ready_session(gate, key) -> str:
    sid = gate.create("alpha", key).body["sessionId"]
    gate.emulator.advance(6)
    return sid


def test_a_starting_session_is_not_ready_with_retry_after(gate, key_mode):
    key = gate.project()
    sid = gate.create("alpha", key).body["sessionId"]
    reply = gate.connect("alpha", key, sid)
    assert reply.status == 409 and reply.reason == "not-ready", reply.body
    assert reply.body["sessionStatus"] == "Starting"
    assert int(reply.headers["Retry-After"]) >= 5
    assert "accessToken" not in reply.body


def test_ready_session_gets_the_session_configuration(gate, key_mode, caplog):
    caplog.set_level(logging.DEBUG)
    key = gate.project()
    sid = _ready_session(gate, key)
    reply = gate.connect("alpha", key, sid)
    assert reply.status == 200, reply.body
    body = reply.body
    truth = gate.get("alpha", key, sid).body  # ARR's own answer, through the gate
    assert body["sessionId"] == sid
    assert body["accountId"] == gate.emulator.account_id
    assert body["hostname"] == truth["hostname"]
    assert (body["handshakePort"], body["arrInspectorPort"]) == (truth["handshakePort"], truth["arrInspectorPort"])
    assert body["connectAuth"] == "key" and body["canStartSessions"] is True
    assert body["sessionConfiguration"] == {
        "AccountId": body["accountId"],
        "AccountDomain": body["accountDomain"],
        "RemoteRenderingDomain": body["remoteRenderingDomain"],
        "AccessToken": body["accessToken"],
    }
    assert _claims(body["accessToken"])["exp"] > 0 and body["accessTokenExpiresOn"].endswith("Z")
    assert reply.headers.get("Cache-Control") == "no-store"
    # the token reaches neither the log nor the audit row
    assert body["accessToken"] not in caplog.text
    rows = [r for r in gate.store.recent_audit(10, "alpha") if r.action == "connect"]
    assert len(rows) == 1 and rows[0].session_id == sid and rows[0].reason == "key"
    assert body["accessToken"] not in json.dumps(rows[0].figures)


def test_none_mode_hands_out_no_token(gate):
    key = gate.project()
    sid = _ready_session(gate, key)
    reply = gate.connect("alpha", key, sid)
    assert reply.status == 200, reply.body
    assert reply.body["connectAuth"] == "none" and reply.body["canStartSessions"] is False
    assert "accessToken" not in reply.body and "accessTokenExpiresOn" not in reply.body
    assert "AccessToken" not in reply.body["sessionConfiguration"]


def test_a_stopped_session_is_ended_naming_its_status(gate, key_mode):
    key = gate.project()
    sid = _ready_session(gate, key)
    assert gate.stop("alpha", key, sid).status == 200
    reply = gate.connect("alpha", key, sid)
    assert reply.status == 409 and reply.reason == "session-ended", reply.body
    assert reply.body["sessionStatus"] == "Stopped" and "accessToken" not in reply.body


def test_an_expired_session_is_ended(gate, key_mode):
    key = gate.project()
    sid = _ready_session(gate, key)
    gate.emulator.advance(61 * 60)
    reply = gate.connect("alpha", key, sid)
    assert reply.status == 409 and reply.body["sessionStatus"] == "Expired", reply.body


def test_keys_and_sessions_are_checked_first(gate, key_mode):
    key = gate.project()
    other = gate.project("beta")
    sid = _ready_session(gate, key)
    assert gate.connect("alpha", None, sid).status == 401
    assert gate.connect("alpha", other, sid).status == 403
    assert gate.connect("alpha", key, "no-such-session").status == 404
    assert gate.connect("beta", other, sid).status == 404  # a session of another project
    assert gate.connect("alpha", key, "bad id!").status == 400


def test_the_token_is_cached_per_account(gate, key_mode):
    key = gate.project()
    first, second = _ready_session(gate, key), _ready_session(gate, key)
    gate.emulator.admin("DELETE", "stats")
    tokens = {gate.connect("alpha", key, sid).body["accessToken"] for sid in (first, second, first)}
    assert len(tokens) == 1
    sts_calls = sum(n for k, n in gate.emulator.stats()["requests"].items() if "token" in k)
    assert sts_calls == 1, gate.emulator.stats()


def test_thirty_apps_at_once_cost_the_token_service_one_call(gate, key_mode):
    """30 apps of one account connecting together on one instance: one STS exchange (single flight)."""
    import threading

    key = gate.project(max_concurrent=40, daily_budget=10_000_000_000)
    sessions = [gate.create("alpha", key).body["sessionId"] for _ in range(30)]
    gate.emulator.advance(6)
    gate.emulator.admin("DELETE", "stats")
    barrier, answers = threading.Barrier(30), []

    def app(sid):
        barrier.wait()
        answers.append(gate.connect("alpha", key, sid))

    threads = [threading.Thread(target=app, args=(sid,)) for sid in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status for a in answers] == [200] * 30, [a.body for a in answers if a.status != 200][:1]
    assert len({a.body["accessToken"] for a in answers}) == 1
    assert gate.emulator.stats()["sts"]["key"] == 1, gate.emulator.stats()["sts"]
