"""ARR's data actions end to end: the token service turns an Entra token into an access token
carrying the principal's actions on that account, and both API generations enforce them."""

import os

import pytest

from governor.core.policy import arr_roles
from governor.emulator import (
    DEV_CONNECT_CLIENT_ID,
    DEV_CONNECT_CLIENT_SECRET,
    DEV_GOVERNOR_CLIENT_ID,
    DEV_GOVERNOR_CLIENT_SECRET,
)
from tests.fixtures.emulator import start_emulator_handle, stop_emulator
from tests.integration.emulator.identity import arr_token, arr_with_token, claims, entra_token, sts

pytest.importorskip("azure.mixedreality.remoterendering")

OUTSIDER = "0d0d0d0d-0000-4000-8000-00000000000d"
OUTSIDER_SECRET = "outsider-secret"
ACCOUNT_B = ("0b0b0b0b-0000-4000-8000-00000000000b", "key-of-account-b==")


def test_sts_gives_each_principal_its_actions_on_the_account(emulator):
    governor = claims(arr_token(emulator, DEV_GOVERNOR_CLIENT_ID, DEV_GOVERNOR_CLIENT_SECRET))
    assert set(governor["actions"]) == set(arr_roles.BUILT_IN_ROLES[arr_roles.CLIENT])
    assert governor["appid"] == DEV_GOVERNOR_CLIENT_ID
    connect = claims(arr_token(emulator, DEV_CONNECT_CLIENT_ID, DEV_CONNECT_CLIENT_SECRET))
    assert set(connect["actions"]) == set(arr_roles.CONNECT_ACTIONS)
    keyed = sts(emulator, f"{emulator.account_id}:{emulator.account_key}").json()["AccessToken"]
    assert claims(keyed)["actions"] == list(arr_roles.ALL_ACTIONS)
    assert emulator.stats()["sts"] == {"key": 1, "entra": 2, "other": 0}


def test_actions_are_the_union_of_the_assignments(emulator):
    emulator.add_principal(OUTSIDER, OUTSIDER_SECRET)
    emulator.put_role("Stopper", [arr_roles.SESSIONS_STOP])
    emulator.assign(OUTSIDER, "Stopper")
    emulator.assign(OUTSIDER, arr_roles.CONNECT_ROLE)
    actions = claims(arr_token(emulator, OUTSIDER, OUTSIDER_SECRET))["actions"]
    assert set(actions) == {arr_roles.SESSIONS_STOP, *arr_roles.CONNECT_ACTIONS}


def test_a_principal_without_an_assignment_here_gets_403_with_no_body(emulator):
    emulator.add_principal(OUTSIDER, OUTSIDER_SECRET)
    response = sts(emulator, entra_token(emulator, OUTSIDER, OUTSIDER_SECRET))
    assert response.status_code == 403
    assert response.content == b""


@pytest.mark.parametrize("mangle", ["tamper", "garbage", "other-key"])
def test_an_invalid_entra_token_gets_401_with_no_body(emulator, mangle, tmp_path):
    token = entra_token(emulator, DEV_GOVERNOR_CLIENT_ID, DEV_GOVERNOR_CLIENT_SECRET)
    if mangle == "tamper":
        head, payload, signature = token.split(".")
        token = f"{head}.{payload}.{signature[::-1]}"
    elif mangle == "garbage":
        token = "a.b.c"
    else:  # the same claims from another emulator process: another signing key
        other = start_emulator_handle(tls_dir=tmp_path)
        try:
            token = entra_token(other, DEV_GOVERNOR_CLIENT_ID, DEV_GOVERNOR_CLIENT_SECRET)
        finally:
            stop_emulator(other.process)
    response = sts(emulator, token)
    assert response.status_code == 401
    assert response.content == b""


def test_2021_routes_enforce_the_data_actions(emulator):
    keyed = arr_with_token(
        emulator, sts(emulator, f"{emulator.account_id}:{emulator.account_key}").json()["AccessToken"]
    )
    assert keyed.put("existing", 20).status_code == 201
    connect = arr_with_token(emulator, arr_token(emulator, DEV_CONNECT_CLIENT_ID, DEV_CONNECT_CLIENT_SECRET))
    assert connect.get("existing").status_code == 200
    assert [s["id"] for s in connect.list_all()] == ["existing"]
    for response in (connect.put("new-one", 20), connect.patch("existing", 30), connect.stop("existing")):
        assert response.status_code == 403
        assert response.content == b"" and response.headers["Content-Length"] == "0"  # the spec's 403: no body
    assert [t["id"] for t in emulator.truth()] == ["existing"]
    assert emulator.truth()[0]["maxLeaseMinutes"] == 20 and emulator.truth()[0]["status"] == "Starting"


def test_v1_routes_enforce_the_data_actions(emulator):
    connect = arr_with_token(emulator, arr_token(emulator, DEV_CONNECT_CLIENT_ID, DEV_CONNECT_CLIENT_SECRET))
    client = arr_with_token(emulator, arr_token(emulator, DEV_GOVERNOR_CLIENT_ID, DEV_GOVERNOR_CLIENT_SECRET))
    base = f"/v1/accounts/{emulator.account_id}/sessions"
    body = {"maxLeaseTime": "1:0:0", "size": "standard"}
    refused = connect.call("POST", f"{base}/create", json=body)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "Forbidden"
    created = client.call("POST", f"{base}/create", json=body)
    assert created.status_code == 202
    sid = created.json()["sessionId"]
    assert connect.call("GET", base).status_code == 200
    assert connect.call("GET", f"{base}/{sid}/properties").status_code == 200
    assert connect.call("PATCH", f"{base}/{sid}", json={"maxLeaseTime": "2:0:0"}).status_code == 403
    assert connect.call("DELETE", f"{base}/{sid}").status_code == 403
    assert client.call("PATCH", f"{base}/{sid}", json={"maxLeaseTime": "2:0:0"}).status_code == 200
    assert client.call("DELETE", f"{base}/{sid}").status_code == 204


def test_a_stop_only_role_cannot_read(emulator):
    emulator.add_principal(OUTSIDER, OUTSIDER_SECRET)
    emulator.put_role("Stopper", [arr_roles.SESSIONS_STOP])
    emulator.assign(OUTSIDER, "Stopper")
    keyed = arr_with_token(
        emulator, sts(emulator, f"{emulator.account_id}:{emulator.account_key}").json()["AccessToken"]
    )
    keyed.put("to-stop", 20)
    stopper = arr_with_token(emulator, arr_token(emulator, OUTSIDER, OUTSIDER_SECRET))
    assert stopper.get("to-stop").status_code == 403
    assert stopper.call("GET", stopper.session_path()).status_code == 403
    assert stopper.stop("to-stop").status_code == 204


def test_assignments_are_per_account(tmp_path):
    handle = start_emulator_handle(
        "--account", f"{ACCOUNT_B[0]}:{ACCOUNT_B[1]}", "--principal", f"{OUTSIDER}:{OUTSIDER_SECRET}",
        "--assign", f"{ACCOUNT_B[0]}:{OUTSIDER}:{arr_roles.CONNECT_ROLE}",
        tls_dir=tmp_path,
    )  # fmt: skip
    try:
        token = entra_token(handle, OUTSIDER, OUTSIDER_SECRET)
        assert sts(handle, token, ACCOUNT_B[0]).status_code == 200
        # Without --principal the development principals would exist; with it, only the given ones.
        assert [p["clientId"] for p in handle.principals()] == [OUTSIDER]
        assert sts(handle, token, "11111111-1111-4111-8111-111111111111").status_code == 401  # unknown account
    finally:
        stop_emulator(handle.process)


# --- the official SDK, unmodified, over https


@pytest.fixture(scope="module")
def sdk_emulator(tmp_path_factory):
    handle = start_emulator_handle("--startup-seconds", "1", tls_dir=tmp_path_factory.mktemp("tls"))
    previous = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = handle.ca_bundle  # the SDK's inner STS client offers no other way
    try:
        yield handle
    finally:
        if previous is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = previous
        stop_emulator(handle.process)


def _sdk(handle, credential):
    from azure.mixedreality.remoterendering import RemoteRenderingClient

    return RemoteRenderingClient(
        endpoint=handle.entra_url,
        account_id=handle.account_id,
        account_domain="emulator.mixedreality.azure.com",
        credential=credential,
        authentication_endpoint_url=handle.entra_url,
        polling_interval=0.2,
    )


def _access_token(handle, client_id, secret):
    from azure.core.credentials import AccessToken

    token = arr_token(handle, client_id, secret)
    return AccessToken(token, claims(token)["exp"])


def test_sdk_with_a_connect_token_reads_but_cannot_start_update_or_stop(sdk_emulator):
    from azure.core.credentials import AzureKeyCredential
    from azure.core.exceptions import HttpResponseError
    from azure.mixedreality.remoterendering import RenderingSessionSize

    sdk_emulator.reset()
    owner = _sdk(sdk_emulator, AzureKeyCredential(sdk_emulator.account_key))
    owner.begin_rendering_session(
        session_id="shared", size=RenderingSessionSize.STANDARD, lease_time_minutes=20
    ).result(timeout=30)
    connect = _sdk(sdk_emulator, _access_token(sdk_emulator, DEV_CONNECT_CLIENT_ID, DEV_CONNECT_CLIENT_SECRET))
    assert connect.get_rendering_session("shared").id == "shared"
    assert [s.id for s in connect.list_rendering_sessions()] == ["shared"]
    attempts = [
        lambda: connect.begin_rendering_session(
            session_id="mine", size=RenderingSessionSize.STANDARD, lease_time_minutes=20
        ),
        lambda: connect.update_rendering_session("shared", lease_time_minutes=40),
        lambda: connect.stop_rendering_session("shared"),
    ]
    for attempt in attempts:
        with pytest.raises(HttpResponseError) as refused:
            attempt()
        assert refused.value.status_code == 403
    owner.stop_rendering_session("shared")


def test_sdk_with_a_remote_rendering_client_token_creates_and_stops(sdk_emulator):
    from azure.mixedreality.remoterendering import RenderingSessionSize, RenderingSessionStatus

    sdk_emulator.reset()
    client = _sdk(sdk_emulator, _access_token(sdk_emulator, DEV_GOVERNOR_CLIENT_ID, DEV_GOVERNOR_CLIENT_SECRET))
    session = client.begin_rendering_session(
        session_id="by-client", size=RenderingSessionSize.STANDARD, lease_time_minutes=20
    ).result(timeout=30)
    assert session.status == RenderingSessionStatus.READY
    assert client.update_rendering_session("by-client", lease_time_minutes=30).lease_time_minutes == 30
    client.stop_rendering_session("by-client")
    assert client.get_rendering_session("by-client").status == RenderingSessionStatus.STOPPED


def test_sdk_exchanges_a_client_secret_credential_at_the_sts_itself(sdk_emulator):
    from azure.core.exceptions import HttpResponseError
    from azure.mixedreality.remoterendering import RenderingSessionSize

    sdk_emulator.reset()
    governor = _sdk(sdk_emulator, sdk_emulator.credential(DEV_GOVERNOR_CLIENT_ID, DEV_GOVERNOR_CLIENT_SECRET))
    governor.begin_rendering_session(
        session_id="entra-path", size=RenderingSessionSize.STANDARD, lease_time_minutes=20
    ).result(timeout=30)
    connect = _sdk(sdk_emulator, sdk_emulator.credential(DEV_CONNECT_CLIENT_ID, DEV_CONNECT_CLIENT_SECRET))
    assert connect.get_rendering_session("entra-path").id == "entra-path"
    with pytest.raises(HttpResponseError) as refused:
        connect.stop_rendering_session("entra-path")
    assert refused.value.status_code == 403
    governor.stop_rendering_session("entra-path")
    stats = sdk_emulator.stats()
    assert stats["sts"] == {"key": 0, "entra": 2, "other": 0}  # one exchange per client, cached by its exp
    assert stats["entra"]["tokensIssued"] == 2
