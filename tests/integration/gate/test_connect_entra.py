"""The connect identity end to end with the real azure-identity and the official ARR SDK, against
the emulator's Entra stand-in: the token the gate hands out reads and connects, but cannot start
or stop a session; the governor's own identity can. And the governor's own ARR_AUTH=entra."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from governor.bootstrap import reset_context
from governor.core.policy import arr_roles
from governor.emulator import (
    DEV_CONNECT_CLIENT_ID,
    DEV_CONNECT_CLIENT_SECRET,
    DEV_GOVERNOR_CLIENT_ID,
    DEV_GOVERNOR_CLIENT_SECRET,
)


def _claims(token: str) -> dict:
    segment = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


@pytest.fixture
def connect_entra(gate_env, emulator, monkeypatch):
    for name, value in emulator.connect_env().items():
        monkeypatch.setenv(name, value)
    reset_context()


def _ready(gate, key) -> str:
    created = gate.create("alpha", key)
    assert created.status == 202, created.body
    gate.emulator.advance(6)
    return created.body["sessionId"]


def test_the_token_is_the_connect_identitys_with_only_its_role(gate, connect_entra, caplog):
    caplog.set_level(logging.DEBUG)
    key = gate.project()
    sid = _ready(gate, key)
    reply = gate.connect("alpha", key, sid)
    assert reply.status == 200, reply.body
    assert (reply.body["connectAuth"], reply.body["canStartSessions"]) == ("entra", False)
    claims = _claims(reply.body["accessToken"])
    assert claims["appid"] == DEV_CONNECT_CLIENT_ID
    assert set(claims["actions"]) == set(arr_roles.CONNECT_ACTIONS)
    assert not arr_roles.can_start_sessions(claims["actions"])
    assert gate.emulator.stats()["sts"]["entra"] == 1
    assert reply.body["accessToken"] not in caplog.text and DEV_CONNECT_CLIENT_SECRET not in caplog.text


def _sdk(emulator, credential, account_domain: str):
    from azure.mixedreality.remoterendering import RemoteRenderingClient

    return RemoteRenderingClient(
        endpoint=emulator.entra_url,  # the same routes, over https, as the SDK insists
        account_id=emulator.account_id,
        account_domain=account_domain,
        credential=credential,
        authentication_endpoint_url=emulator.entra_url,
        polling_interval=0.2,
    )


def test_the_official_sdk_with_the_connect_token_reads_but_cannot_start_or_stop(gate, connect_entra, monkeypatch):
    pytest.importorskip("azure.mixedreality.remoterendering")
    from azure.core.credentials import AccessToken
    from azure.core.exceptions import HttpResponseError
    from azure.mixedreality.remoterendering import RenderingSessionSize

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", gate.emulator.ca_bundle)  # the SDK's pipelines take no other
    key = gate.project()
    sid = _ready(gate, key)
    bundle = gate.connect("alpha", key, sid).body
    token = AccessToken(bundle["accessToken"], _claims(bundle["accessToken"])["exp"])
    as_app = _sdk(gate.emulator, token, bundle["accountDomain"])

    assert as_app.get_rendering_session(sid).status == "Ready"
    assert [s.id for s in as_app.list_rendering_sessions()] == [sid]
    for attempt in (
        lambda: as_app.begin_rendering_session("around-the-gate", RenderingSessionSize.STANDARD, 30),
        lambda: as_app.update_rendering_session(sid, lease_time_minutes=600),
        lambda: as_app.stop_rendering_session(sid),
    ):
        with pytest.raises(HttpResponseError) as refused:
            attempt()
        assert refused.value.status_code == 403
    truth = gate.emulator.truth()
    assert [(s["id"], s["status"], s["maxLeaseMinutes"]) for s in truth] == [(sid, "Ready", 60)]

    # the governor's own identity (Remote Rendering Client), through STS by the SDK itself, can
    own = gate.emulator.credential(DEV_GOVERNOR_CLIENT_ID, DEV_GOVERNOR_CLIENT_SECRET)
    as_governor = _sdk(gate.emulator, own, bundle["accountDomain"])
    made = as_governor.begin_rendering_session("with-rights", RenderingSessionSize.STANDARD, 30).result()
    assert made.status == "Ready"
    as_governor.stop_rendering_session("with-rights")
    assert next(s for s in gate.emulator.truth() if s["id"] == "with-rights")["status"] == "Stopped"


def test_a_connect_identity_without_its_role_gets_no_token_and_nothing_changes(gate, connect_entra):
    from governor.core.policy.arr_roles import CONNECT_ROLE

    key = gate.project()
    sid = _ready(gate, key)
    gate.emulator.unassign(DEV_CONNECT_CLIENT_ID, CONNECT_ROLE)
    reply = gate.connect("alpha", key, sid)
    assert reply.status == 503 and reply.reason == "upstream-unavailable", reply.body
    assert "accessToken" not in reply.body and DEV_CONNECT_CLIENT_SECRET not in json.dumps(reply.body)
    assert [s["status"] for s in gate.emulator.truth()] == ["Ready"]
    assert gate.get("alpha", key, sid).body["state"] == "active"


def test_a_wrong_connect_secret_is_a_503_that_names_no_secret(gate, connect_entra, monkeypatch):
    monkeypatch.setenv("ARR_CONNECT_CLIENT_SECRET", "not-the-secret")
    reset_context()
    key = gate.project()
    sid = _ready(gate, key)
    reply = gate.connect("alpha", key, sid)
    assert reply.status == 503, reply.body
    assert "not-the-secret" not in json.dumps(reply.body)


def test_the_governors_own_entra_identity_runs_the_gate_end_to_end(gate, monkeypatch):
    for name, value in {
        **gate.emulator.entra_env(),
        "ARR_AUTH": "entra",
        "ARR_ENTRA_CLIENT_ID": DEV_GOVERNOR_CLIENT_ID,
        "ARR_ENTRA_CLIENT_SECRET": DEV_GOVERNOR_CLIENT_SECRET,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ARR_ACCOUNT_KEY")
    reset_context()
    key = gate.project()
    sid = _ready(gate, key)
    extended = gate.extend("alpha", key, sid, {"maxLeaseTime": 90})
    assert extended.status == 200 and gate.emulator.truth()[0]["maxLeaseMinutes"] == 90, extended.body
    stopped = gate.stop("alpha", key, sid)
    assert stopped.status == 200 and stopped.body["status"] == "Stopped", stopped.body
    sts = gate.emulator.stats()["sts"]
    assert sts["entra"] >= 1 and sts["key"] == 0, sts
