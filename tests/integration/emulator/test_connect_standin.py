"""The emulator-only stand-in for the client runtime's handshake: render/read, a Ready session,
one device at a time; a stop or an expiry drops the connection."""

import pytest
import requests

from governor.core.policy import arr_roles
from governor.emulator import DEV_CONNECT_CLIENT_ID, DEV_CONNECT_CLIENT_SECRET
from tests.integration.emulator.identity import arr_token, arr_with_token, sts

READER = "0e0e0e0e-0000-4000-8000-00000000000e"
READER_SECRET = "reader-secret"


@pytest.fixture
def owner(emulator):
    return arr_with_token(
        emulator, sts(emulator, f"{emulator.account_id}:{emulator.account_key}").json()["AccessToken"]
    )


@pytest.fixture
def device_token(emulator) -> str:
    return arr_token(emulator, DEV_CONNECT_CLIENT_ID, DEV_CONNECT_CLIENT_SECRET)


def _connect(emulator, token, sid, device=None, method="POST"):
    return requests.request(
        method,
        f"{emulator.url}/_emulator/sessions/{sid}/connect",
        json={"device": device} if device else None,
        headers={"Authorization": f"Bearer {token}"} if token else {},
        timeout=10,
    )


def _ready(emulator, owner, sid, minutes=20):
    assert owner.put(sid, minutes).status_code == 201
    emulator.advance(6)  # past --startup-seconds 5


def _connected_device(emulator, sid):
    return next(t["connectedDevice"] for t in emulator.truth() if t["id"] == sid)


def test_one_device_at_a_time(emulator, owner, device_token):
    _ready(emulator, owner, "s1")
    first = _connect(emulator, device_token, "s1", "hololens-1")
    assert first.status_code == 200
    body = first.json()
    assert body["sessionId"] == "s1" and body["device"] == "hololens-1" and body["connectedAt"]
    assert _connected_device(emulator, "s1") == "hololens-1"
    second = _connect(emulator, device_token, "s1", "hololens-2")
    assert second.status_code == 409
    assert "hololens-1" in second.json()["error"]["message"]
    assert _connect(emulator, device_token, "s1", method="DELETE").status_code == 204
    assert _connected_device(emulator, "s1") is None
    assert _connect(emulator, device_token, "s1", method="DELETE").status_code == 404
    assert _connect(emulator, device_token, "s1", "hololens-2").json()["device"] == "hololens-2"


def test_only_a_ready_session_accepts_a_device(emulator, owner, device_token):
    assert owner.put("starting", 20).status_code == 201
    starting = _connect(emulator, device_token, "starting")
    assert starting.status_code == 409 and "Starting" in starting.json()["error"]["message"]
    assert _connect(emulator, device_token, "never-created").status_code == 404


def test_a_stop_drops_the_connection(emulator, owner, device_token):
    _ready(emulator, owner, "s2")
    assert _connect(emulator, device_token, "s2").json()["device"] == "device"
    assert owner.stop("s2").status_code == 204
    assert _connected_device(emulator, "s2") is None
    assert _connect(emulator, device_token, "s2", method="DELETE").status_code == 404
    stopped = _connect(emulator, device_token, "s2")
    assert stopped.status_code == 409 and "Stopped" in stopped.json()["error"]["message"]


def test_an_expiry_drops_the_connection(emulator, owner, device_token):
    _ready(emulator, owner, "s3", minutes=1)
    assert _connect(emulator, device_token, "s3").status_code == 200
    emulator.advance(61)
    assert _connected_device(emulator, "s3") is None
    assert _connect(emulator, device_token, "s3").status_code == 409


def test_render_read_is_needed(emulator, owner):
    _ready(emulator, owner, "s4")
    emulator.add_principal(READER, READER_SECRET)
    emulator.put_role("Session Reader", [arr_roles.SESSIONS_READ])
    emulator.assign(READER, "Session Reader")
    reader = arr_token(emulator, READER, READER_SECRET)
    refused = _connect(emulator, reader, "s4")
    assert refused.status_code == 403 and arr_roles.RENDER_READ in refused.json()["error"]["message"]
    assert _connect(emulator, None, "s4").status_code == 401
    assert _connect(emulator, "not-a-token", "s4").status_code == 401
    assert _connect(emulator, owner.token(), "s4").status_code == 200  # an account key's token has every action


@pytest.mark.parametrize(
    "body", [b"[]", b"{", b'{"device": 5}', b'{"device": ""}', ('{"device": "' + "x" * 300 + '"}').encode()]
)
def test_bad_bodies_get_400(emulator, owner, device_token, body):
    _ready(emulator, owner, "s5")
    response = requests.post(
        f"{emulator.url}/_emulator/sessions/s5/connect",
        data=body,
        headers={"Authorization": f"Bearer {device_token}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"


def test_connects_are_not_arr_requests(emulator, owner, device_token):
    _ready(emulator, owner, "s6")
    emulator.admin("DELETE", "stats")
    emulator.set_faults(rate=1.0, statuses=[503])
    assert _connect(emulator, device_token, "s6").status_code == 200  # never faulted
    emulator.clear_faults()
    assert emulator.stats()["total"] == 0
