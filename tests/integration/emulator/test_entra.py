"""The Entra ID stand-in: azure-identity's real ClientSecretCredential against it over https,
and the token endpoint's errors in Entra's shape."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from governor.emulator import (
    DEV_CONNECT_CLIENT_ID,
    DEV_CONNECT_CLIENT_SECRET,
    DEV_GOVERNOR_CLIENT_ID,
    DEV_GOVERNOR_CLIENT_SECRET,
    DEV_TENANT_ID,
)
from tests.fixtures.emulator import start_emulator_handle, stop_emulator
from tests.integration.emulator.identity import GOVERNOR_SCOPE, STS_SCOPE, claims, sts, token_request

pytest.importorskip("azure.identity")

NEW_CLIENT = "0c0c0c0c-0000-4000-8000-00000000000c"
SECRET = "a-test-secret-value~"


def test_openid_configuration_names_the_endpoints(emulator):
    base = emulator.entra_url
    response = requests.get(
        f"{base}/{emulator.tenant_id}/v2.0/.well-known/openid-configuration", verify=emulator.ca_bundle, timeout=10
    )
    assert response.status_code == 200
    config = response.json()
    assert config["issuer"] == f"{base}/{DEV_TENANT_ID}/v2.0"
    assert config["token_endpoint"] == f"{base}/{DEV_TENANT_ID}/oauth2/v2.0/token"
    assert config["authorization_endpoint"] == f"{base}/{DEV_TENANT_ID}/oauth2/v2.0/authorize"
    assert requests.get(config["jwks_uri"], verify=emulator.ca_bundle, timeout=10).json() == {"keys": []}
    assert emulator.admin("GET", "entra")["tenantId"] == DEV_TENANT_ID


def test_client_secret_credential_gets_a_token(emulator):
    before = time.time()
    token = emulator.credential(DEV_GOVERNOR_CLIENT_ID, DEV_GOVERNOR_CLIENT_SECRET).get_token(STS_SCOPE)
    payload = claims(token.token)
    assert payload["aud"] == "https://sts.mixedreality.azure.com"
    assert payload["tid"] == DEV_TENANT_ID
    assert payload["appid"] == payload["azp"] == DEV_GOVERNOR_CLIENT_ID
    assert payload["oid"] and payload["iss"] == f"{emulator.entra_url}/{DEV_TENANT_ID}/v2.0"
    assert before - 1 <= payload["iat"] <= time.time() + 1  # wall clock, not the virtual one
    assert payload["exp"] - payload["iat"] == 3600
    assert abs(token.expires_on - payload["exp"]) <= 1
    stats = emulator.stats()
    assert stats["entra"]["tokensIssued"] == 1 and stats["entra"]["tokenRequests"] == 1
    assert stats["total"] == 0  # Entra calls are not ARR calls


def test_the_governors_double_slash_scope_is_accepted(emulator):
    token = emulator.credential(DEV_GOVERNOR_CLIENT_ID, DEV_GOVERNOR_CLIENT_SECRET).get_token(GOVERNOR_SCOPE)
    assert claims(token.token)["aud"] == "https://sts.mixedreality.azure.com"


@pytest.mark.parametrize(
    ("client", "secret", "code"),
    [
        (DEV_GOVERNOR_CLIENT_ID, "wrong-secret", "AADSTS7000215"),
        ("11111111-2222-4333-8444-555555555555", "whatever", "AADSTS700016"),
        ("not-a-guid", "whatever", "AADSTS700016"),
    ],
)
def test_wrong_secret_or_unknown_client_raise_client_authentication_error(emulator, client, secret, code):
    from azure.core.exceptions import ClientAuthenticationError

    with pytest.raises(ClientAuthenticationError) as refused:
        emulator.credential(client, secret).get_token(STS_SCOPE)
    assert code in str(refused.value)
    assert secret not in str(refused.value)


def test_an_expired_secret_is_refused_as_expired(emulator):
    from azure.core.exceptions import ClientAuthenticationError

    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    emulator.add_principal(NEW_CLIENT, SECRET, past)
    with pytest.raises(ClientAuthenticationError) as refused:
        emulator.credential(NEW_CLIENT, SECRET).get_token(STS_SCOPE)
    assert "AADSTS7000222" in str(refused.value) and "expired" in str(refused.value)
    raw = token_request(emulator, NEW_CLIENT, SECRET)
    assert raw.status_code == 401 and raw.json()["error"] == "invalid_client"
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    emulator.add_principal(NEW_CLIENT, SECRET, future)
    assert token_request(emulator, NEW_CLIENT, SECRET).status_code == 200


@pytest.mark.parametrize(
    ("form", "status", "error", "code"),
    [
        ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
        ({"grant_type": None}, 400, "invalid_request", 900144),
        ({"client_id": None}, 400, "invalid_request", 900144),
        ({"scope": None}, 400, "invalid_request", 900144),
        ({"client_secret": None}, 401, "invalid_client", 7000218),
        ({"scope": "https://sts.mixedreality.azure.com/mixedreality.signin"}, 400, "invalid_scope", 1002012),
        ({"scope": "https://graph.microsoft.com/.default"}, 400, "invalid_resource", 500011),
        ({"scope": "a/.default b/.default"}, 400, "invalid_scope", 1002012),
    ],
)
def test_token_endpoint_errors_have_entras_shape(emulator, form, status, error, code):
    body = {
        "grant_type": "client_credentials",
        "client_id": DEV_GOVERNOR_CLIENT_ID,
        "client_secret": DEV_GOVERNOR_CLIENT_SECRET,
        "scope": STS_SCOPE,
        **form,
    }
    body = {k: v for k, v in body.items() if v is not None}
    response = requests.post(
        f"{emulator.url}/{emulator.tenant_id}/oauth2/v2.0/token",
        data=body,
        headers={"client-request-id": "corr-1"},
        timeout=10,
    )
    assert response.status_code == status
    answer = response.json()
    assert answer["error"] == error
    assert answer["error_codes"] == [code]
    assert answer["error_description"].startswith(f"AADSTS{code}: ")
    assert answer["correlation_id"] == "corr-1"
    assert DEV_GOVERNOR_CLIENT_SECRET not in response.text


def test_other_bodies_never_give_500(emulator):
    url = f"{emulator.url}/{emulator.tenant_id}/oauth2/v2.0/token"
    for data in (b"", b"\xff\xfe", b"{}", b"grant_type", b"a=1&a=2", json.dumps({"grant_type": "x"}).encode()):
        response = requests.post(url, data=data, timeout=10)
        assert response.status_code == 400, data
        assert response.json()["error"] == "invalid_request"
    assert requests.get(url, timeout=10).status_code == 405


def test_unknown_tenant_is_refused(emulator):
    other = "99999999-0000-4000-8000-000000000099"
    response = requests.get(f"{emulator.url}/{other}/v2.0/.well-known/openid-configuration", timeout=10)
    assert response.status_code == 400 and response.json()["error"] == "invalid_tenant"
    form = {"grant_type": "client_credentials", "client_id": DEV_GOVERNOR_CLIENT_ID, "scope": STS_SCOPE}
    token = requests.post(f"{emulator.url}/{other}/oauth2/v2.0/token", data=form, timeout=10)
    assert token.status_code == 400 and "AADSTS90002" in token.json()["error_description"]


def test_regional_and_own_sts_resources_are_accepted(emulator):
    for resource in ("https://sts.eastus.mixedreality.azure.com", emulator.url):
        response = token_request(emulator, DEV_CONNECT_CLIENT_ID, None, f"{resource}/.default")
        assert response.status_code == 401  # no secret: the scope passed, the client did not
        granted = token_request(emulator, DEV_CONNECT_CLIENT_ID, DEV_CONNECT_CLIENT_SECRET, f"{resource}/.default")
        assert granted.status_code == 200
        assert sts(emulator, granted.json()["access_token"]).status_code == 200


def test_another_tenant_and_signing_key_survive_a_restart_with_state(tmp_path):
    tenant = "abcdef00-0000-4000-8000-0000000000ab"
    flags = ("--tenant", tenant.upper(), "--state", str(tmp_path / "state.json"))
    first = start_emulator_handle(*flags, tls_dir=tmp_path / "tls")
    try:
        assert first.tenant_id == tenant
        token = first.credential(DEV_GOVERNOR_CLIENT_ID, DEV_GOVERNOR_CLIENT_SECRET).get_token(STS_SCOPE).token
        assert claims(token)["tid"] == tenant
        assert sts(first, token).status_code == 200
    finally:
        stop_emulator(first.process)
    second = start_emulator_handle(*flags, tls_dir=tmp_path / "tls")
    try:
        assert sts(second, token).status_code == 200  # a cached Entra token outlives the restart
        dev = requests.get(f"{second.url}/{DEV_TENANT_ID}/v2.0/.well-known/openid-configuration", timeout=10)
        assert dev.status_code == 400
    finally:
        stop_emulator(second.process)
