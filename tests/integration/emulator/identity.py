"""Test helpers for the Entra stand-in and role-restricted ARR tokens, over real HTTP (requests)."""

from __future__ import annotations

import base64
import json

import requests

from tests.integration.emulator.client import Arr

STS_SCOPE = "https://sts.mixedreality.azure.com/.default"
GOVERNOR_SCOPE = "https://sts.mixedreality.azure.com//.default"  # what governor/arr/credentials.py sends


def token_request(handle, client_id: str, secret: str | None, scope: str = STS_SCOPE, **extra) -> requests.Response:
    form = {"grant_type": "client_credentials", "client_id": client_id, "scope": scope, **extra}
    if secret is not None:
        form["client_secret"] = secret
    return requests.post(f"{handle.url}/{handle.tenant_id}/oauth2/v2.0/token", data=form, timeout=10)


def entra_token(handle, client_id: str, secret: str, scope: str = STS_SCOPE) -> str:
    response = token_request(handle, client_id, secret, scope)
    response.raise_for_status()
    return response.json()["access_token"]


def sts(handle, bearer: str, account: str | None = None) -> requests.Response:
    account = account or handle.account_id
    return requests.get(
        f"{handle.url}/accounts/{account}/token", headers={"Authorization": f"Bearer {bearer}"}, timeout=10
    )


def arr_token(handle, client_id: str, secret: str, account: str | None = None) -> str:
    response = sts(handle, entra_token(handle, client_id, secret), account)
    response.raise_for_status()
    return response.json()["AccessToken"]


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def arr_with_token(handle, token: str, account: str | None = None) -> Arr:
    """The test client acting with a ready access token (no key exchange)."""
    arr = Arr(handle.url, account or handle.account_id, "")
    arr._token = token
    return arr
