"""The token service and per-account isolation."""

import base64
import json

import pytest
import requests

from tests.fixtures.emulator import EmulatorHandle, start_emulator, stop_emulator
from tests.integration.emulator.client import Arr

ACCOUNT_A = ("0a0a0a0a-0000-4000-8000-00000000000a", "key-of-account-a==")
ACCOUNT_B = ("0b0b0b0b-0000-4000-8000-00000000000b", "key-of-account-b==")


@pytest.fixture(scope="module")
def two_accounts():
    process, url = start_emulator("--account", ":".join(ACCOUNT_A), "--account", ":".join(ACCOUNT_B))
    try:
        yield EmulatorHandle(url, *ACCOUNT_A, process=process)
    finally:
        stop_emulator(process)


def test_token_payload_decodes_the_way_the_sdk_reads_it(arr):
    token = arr.token()
    parts = token.split(".")
    assert len(parts) == 3
    # azure-mixedreality-authentication: base64.b64decode(parts[1] + "===") then json.loads, needs "exp".
    payload = json.loads(base64.b64decode(parts[1] + "==="))
    assert payload["exp"] > payload["iat"]
    assert payload["exp"] - payload["iat"] == 24 * 3600


@pytest.mark.parametrize("path", ["/Accounts/{id}/token", "/accounts/{id}/token?api-version=2019-02-28-preview"])
def test_token_path_is_case_insensitive_and_ignores_the_query(emulator, path):
    response = requests.get(
        emulator.url + path.format(id=emulator.account_id),
        headers={"Authorization": f"Bearer {emulator.account_id}:{emulator.account_key}"},
        timeout=10,
    )
    assert response.status_code == 200
    assert list(response.json()) == ["AccessToken"]
    assert response.headers["Cache-Control"] == "no-store, no-cache"


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer {id}:wrong-key",
        "Bearer {id}",
        "Basic {id}:{key}",
        "Bearer 00000000-0000-0000-0000-000000000000:{key}",
    ],
)
def test_bad_credentials_get_401_with_an_empty_body(emulator, authorization):
    headers = {}
    if authorization:
        headers["Authorization"] = authorization.format(id=emulator.account_id, key=emulator.account_key)
    response = requests.get(f"{emulator.url}/accounts/{emulator.account_id}/token", headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.content == b""
    assert response.headers["Content-Length"] == "0"
    assert "MS-CV" in response.headers


def test_unknown_account_gets_401(emulator):
    other = "11111111-1111-1111-1111-111111111111"
    response = requests.get(
        f"{emulator.url}/accounts/{other}/token", headers={"Authorization": f"Bearer {other}:x"}, timeout=10
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "authorization", [None, "Bearer not-a-token", "Bearer a.b.c", "{account_key}", "Bearer {tampered}"]
)
def test_service_routes_need_an_issued_token(arr, authorization):
    token = arr.token()
    head, payload, signature = token.split(".")
    tampered = f"{head}.{payload}.{signature[::-1]}"
    headers = {}
    if authorization:
        headers["Authorization"] = authorization.format(account_key=arr.account_key, tampered=tampered)
    for path in (arr.session_path(), f"/v1/accounts/{arr.account_id}/sessions"):
        response = requests.get(arr.url + path, headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
        assert "MS-CV" in response.headers


def test_account_key_is_not_a_token(arr):
    response = arr.call("GET", arr.session_path(), auth=False, headers={"Authorization": f"Bearer {arr.account_key}"})
    assert response.status_code == 401


def test_accounts_are_isolated(two_accounts):
    a = Arr(two_accounts.url, *ACCOUNT_A)
    b = Arr(two_accounts.url, *ACCOUNT_B)
    assert a.put("shared-name", 15).status_code == 201
    assert b.put("shared-name", 30).status_code == 201  # same id, other account: a different session
    assert [s["maxLeaseTimeMinutes"] for s in a.list_all()] == [15]
    assert [s["maxLeaseTimeMinutes"] for s in b.list_all()] == [30]
    # A's token on B's paths is refused, whatever the route.
    b_list = f"/accounts/{ACCOUNT_B[0]}/sessions?api-version=2021-01-01"
    refused_2021 = a.call("GET", b_list)
    assert refused_2021.status_code == 403 and refused_2021.content == b""  # the spec's 403: no body
    refused_v1 = a.call("GET", f"/v1/accounts/{ACCOUNT_B[0]}/sessions")
    assert refused_v1.status_code == 403 and refused_v1.json()["error"]["code"] == "Forbidden"
    stop = f"/accounts/{ACCOUNT_B[0]}/sessions/shared-name/:stop?api-version=2021-01-01"
    assert a.call("POST", stop).status_code == 403
    assert b.get("shared-name").json()["status"] == "Starting"
    truth = two_accounts.truth()
    assert sorted(t["account"] for t in truth) == sorted([ACCOUNT_A[0], ACCOUNT_B[0]])
    assert [t["account"] for t in two_accounts.truth(ACCOUNT_B[0])] == [ACCOUNT_B[0]]


def test_account_ids_in_paths_are_case_insensitive(arr):
    upper = arr.account_id.upper()
    response = arr.call("GET", f"/accounts/{upper}/sessions?api-version=2021-01-01")
    assert response.status_code == 200
