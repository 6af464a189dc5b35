"""Principals, roles and role assignments: by flag, through the admin routes, across a reset;
bad input is refused naming the field (400, exit 2 for a flag), never a 500, never echoing a secret."""

import json
import subprocess
import sys

import pytest
import requests

from governor.core.policy import arr_roles
from governor.emulator import DEV_ACCOUNT_ID, DEV_CONNECT_CLIENT_ID, DEV_GOVERNOR_CLIENT_ID
from tests.fixtures.emulator import ROOT, start_emulator_handle, stop_emulator
from tests.integration.emulator.identity import arr_token, claims, entra_token, sts

APP = "0f0f0f0f-0000-4000-8000-00000000000f"
SECRET = "s3cr3t-value-never-shown"
UNKNOWN = "12121212-0000-4000-8000-000000000012"


def test_development_defaults(emulator):
    principals = emulator.principals()
    assert [p["clientId"] for p in principals] == sorted([DEV_GOVERNOR_CLIENT_ID, DEV_CONNECT_CLIENT_ID])
    assert all(set(p) == {"clientId", "objectId", "secretExpiresAt"} for p in principals)  # never the secret
    roles = {r["name"]: r for r in emulator.roles()}
    assert roles[arr_roles.CLIENT]["builtIn"] and roles[arr_roles.ADMINISTRATOR]["builtIn"]
    assert roles[arr_roles.CONNECT_ROLE] == {
        "name": arr_roles.CONNECT_ROLE,
        "actions": list(arr_roles.CONNECT_ACTIONS),
        "builtIn": False,
    }
    assert emulator.assignments() == [
        {"account": DEV_ACCOUNT_ID, "clientId": DEV_GOVERNOR_CLIENT_ID, "role": arr_roles.CLIENT},
        {"account": DEV_ACCOUNT_ID, "clientId": DEV_CONNECT_CLIENT_ID, "role": arr_roles.CONNECT_ROLE},
    ]


def test_admin_changes_and_reset(emulator):
    assert emulator.add_principal(APP, SECRET, "2031-01-01T00:00:00Z")["secretExpiresAt"] == "2031-01-01T00:00:00+00:00"
    assert emulator.put_role("Lease Reader", [arr_roles.SESSIONS_READ])["builtIn"] is False
    assert emulator.assign(APP, "Lease Reader") == {"account": DEV_ACCOUNT_ID, "clientId": APP, "role": "Lease Reader"}
    assert claims(arr_token(emulator, APP, SECRET))["actions"] == [arr_roles.SESSIONS_READ]
    assigned = requests.delete(f"{emulator.url}/_emulator/roles/Lease Reader", timeout=10)
    assert assigned.status_code == 409
    emulator.unassign(APP, "Lease Reader")
    assert sts(emulator, entra_token(emulator, APP, SECRET)).status_code == 403  # no assignment left
    emulator.assign(APP, "Lease Reader")
    emulator.remove_principal(APP)  # takes its assignments along
    assert all(a["clientId"] != APP for a in emulator.assignments())
    assert requests.delete(f"{emulator.url}/_emulator/roles/Lease Reader", timeout=10).status_code == 204
    emulator.remove_principal(DEV_CONNECT_CLIENT_ID)
    emulator.put_role(arr_roles.CONNECT_ROLE, [arr_roles.RENDER_READ])  # the connect role is a custom role
    emulator.reset()
    assert DEV_CONNECT_CLIENT_ID in [p["clientId"] for p in emulator.principals()]
    assert {r["name"]: r["actions"] for r in emulator.roles()}[arr_roles.CONNECT_ROLE] == list(
        arr_roles.CONNECT_ACTIONS
    )
    assert len(emulator.assignments()) == 2


def test_flags_configure_the_directory_and_reset_returns_to_them(tmp_path):
    handle = start_emulator_handle(
        "--principal", f"{APP.upper()}:{SECRET}",
        "--role", f"Stopper={arr_roles.SESSIONS_STOP}, {arr_roles.SESSIONS_READ}",
        "--assign", f"{DEV_ACCOUNT_ID}:{APP}:Stopper",
        tls_dir=tmp_path,
    )  # fmt: skip
    try:
        assert [p["clientId"] for p in handle.principals()] == [APP]  # no development principals
        assert handle.assignments() == [{"account": DEV_ACCOUNT_ID, "clientId": APP, "role": "Stopper"}]
        assert set(claims(arr_token(handle, APP, SECRET))["actions"]) == {
            arr_roles.SESSIONS_STOP,
            arr_roles.SESSIONS_READ,
        }
        handle.remove_principal(APP)
        handle.reset()
        assert claims(arr_token(handle, APP, SECRET))["appid"] == APP
    finally:
        stop_emulator(handle.process)


@pytest.mark.parametrize(
    "args",
    [
        ["--principal", f"not-a-guid:{SECRET}"],
        ["--principal", APP],
        ["--principal", f"{APP}:"],
        ["--tenant", "contoso"],
        ["--role", "NoActions="],
        ["--role", "Nope=Microsoft.Foo/bar"],
        ["--role", f"{arr_roles.CLIENT}={arr_roles.SESSIONS_READ}"],
        ["--role", f"A/B={arr_roles.SESSIONS_READ}"],
        ["--assign", "nonsense"],
        ["--assign", f"{DEV_ACCOUNT_ID}:{DEV_GOVERNOR_CLIENT_ID}:No Such Role"],
        ["--assign", f"{UNKNOWN}:{DEV_GOVERNOR_CLIENT_ID}:{arr_roles.CLIENT}"],
        ["--principal", f"{APP}:{SECRET}", "--assign", f"{DEV_ACCOUNT_ID}:{UNKNOWN}:{arr_roles.CLIENT}"],
    ],
)
def test_bad_identity_flags_exit_2_without_echoing_secrets(args):
    result = subprocess.run(
        [sys.executable, "-m", "governor", "emulator", *args], cwd=ROOT, capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert SECRET not in result.stderr
    assert "Traceback" not in result.stderr


GUID_PRINCIPAL = f"principals/{APP}"
ASSIGN = {"account": DEV_ACCOUNT_ID, "clientId": DEV_GOVERNOR_CLIENT_ID, "role": arr_roles.CLIENT}


@pytest.mark.parametrize(
    ("method", "route", "body", "status", "names"),
    [
        ("PUT", "principals/not-a-guid", {"secret": SECRET}, 400, "clientId"),
        ("PUT", GUID_PRINCIPAL, {}, 400, "secret"),
        ("PUT", GUID_PRINCIPAL, {"secret": 5}, 400, "secret"),
        ("PUT", GUID_PRINCIPAL, {"secret": ""}, 400, "secret"),
        ("PUT", GUID_PRINCIPAL, {"secret": SECRET, "secretExpiresAt": "tomorrow"}, 400, "secretExpiresAt"),
        ("PUT", GUID_PRINCIPAL, {"secret": SECRET, "secretExpiresAt": 5}, 400, "secretExpiresAt"),
        ("PUT", GUID_PRINCIPAL, [SECRET], 400, "object"),
        ("DELETE", f"principals/{UNKNOWN}", None, 404, UNKNOWN),
        ("PUT", "roles/Custom", {}, 400, "actions"),
        ("PUT", "roles/Custom", {"actions": []}, 400, "actions"),
        ("PUT", "roles/Custom", {"actions": ["Microsoft.Foo/bar"]}, 400, "actions"),
        ("PUT", "roles/Custom", {"actions": [7]}, 400, "actions"),
        ("PUT", "roles/%20Custom", {"actions": [arr_roles.SESSIONS_READ]}, 400, "role name"),
        ("PUT", f"roles/{arr_roles.CLIENT}", {"actions": [arr_roles.SESSIONS_READ]}, 409, "built in"),
        ("DELETE", f"roles/{arr_roles.ADMINISTRATOR}", None, 409, "built in"),
        ("DELETE", "roles/Unknown", None, 404, "Unknown"),
        ("DELETE", f"roles/{arr_roles.CONNECT_ROLE}", None, 409, "assigned"),
        ("POST", "assignments", {**ASSIGN, "account": UNKNOWN}, 400, "account"),
        ("POST", "assignments", {**ASSIGN, "account": 5}, 400, "account"),
        ("POST", "assignments", {**ASSIGN, "clientId": "x"}, 400, "clientId"),
        ("POST", "assignments", {**ASSIGN, "clientId": UNKNOWN}, 400, "clientId"),
        ("POST", "assignments", {**ASSIGN, "role": "Nope"}, 400, "role"),
        ("POST", "assignments", {**ASSIGN, "role": None}, 400, "role"),
        ("DELETE", "assignments", {**ASSIGN, "role": arr_roles.ADMINISTRATOR}, 404, "assignment"),
    ],
)
def test_bad_admin_input_is_refused_naming_the_field(emulator, method, route, body, status, names):
    response = requests.request(method, f"{emulator.url}/_emulator/{route}", json=body, timeout=10)
    assert response.status_code == status, response.text
    assert names in response.json()["error"]["message"]
    assert SECRET not in response.text


ODD_BODIES = [b"", b"null", b"[]", b"{", b'{"secret": null}', json.dumps({"actions": {"a": 1}}).encode(), b"\xff"]


@pytest.mark.parametrize("route", [GUID_PRINCIPAL, "roles/Custom", "assignments"])
def test_odd_bodies_never_give_500(emulator, route):
    for method in ("PUT", "POST", "DELETE", "GET"):
        for body in ODD_BODIES:
            response = requests.request(method, f"{emulator.url}/_emulator/{route}", data=body, timeout=10)
            assert response.status_code < 500, (method, route, body, response.text)
