"""Token service, token cache, refresh on 401, Entra ID and static tokens, and no leaked secrets."""

import logging
from datetime import timedelta

import pytest
import requests

from governor.arr.client import ArrClient
from governor.arr.credentials import STS_SCOPE, jwt_expiry
from governor.arr.errors import ArrAuthError
from governor.core.model import VmSize, utcnow
from governor.emulator import DEV_CONNECT_CLIENT_ID, DEV_CONNECT_CLIENT_SECRET
from tests.integration.arr.conftest import VERSIONS, account_for
from tests.integration.emulator.identity import arr_token


def tampered(token: str) -> str:
    head, payload, signature = token.split(".")
    return f"{head}.{payload}.{signature[::-1]}"


def revoke_cached_token(arr) -> None:
    """What ARR does to a revoked or expired token (the emulator checks expiry against real
    time, so a day cannot pass here): the cached token is now refused with 401."""
    arr._tokens._token = tampered(arr._tokens._token)


class Clock:
    def __init__(self):
        self.offset = timedelta(0)

    def __call__(self):
        return utcnow() + self.offset


def token_exchanges(emulator) -> int:
    """Token exchanges the emulator's STS answered since the test's reset (public stats)."""
    return emulator.stats()["requests"].get("GET /accounts/{account}/token", 0)


def sts_token(emulator) -> str:
    response = requests.get(
        f"{emulator.url}/accounts/{emulator.account_id}/token",
        headers={"Authorization": f"Bearer {emulator.account_id}:{emulator.account_key}"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["AccessToken"]


def test_token_fetched_once_then_cached(make_client, emulator):
    arr = make_client()
    for _ in range(3):
        arr.list()
    assert token_exchanges(emulator) == 1


def test_token_refetched_shortly_before_its_exp(make_client, emulator):
    clock = Clock()
    arr = make_client(credential_kwargs={"clock": clock})
    # The emulator's tokens live a fixed time: one fetched now expires when the client's does (+- 1 s).
    exp = jwt_expiry(sts_token(emulator))
    arr.list()
    assert token_exchanges(emulator) == 2  # ours and the client's
    clock.offset = exp - utcnow() - timedelta(minutes=10)
    arr.list()
    assert token_exchanges(emulator) == 2
    clock.offset = exp - utcnow() - timedelta(minutes=2)  # inside the 5-minute refresh margin
    arr.list()
    assert token_exchanges(emulator) == 3


@pytest.mark.parametrize("version", ["2021-01-01", "v1"])
def test_401_refreshes_the_token_once_and_succeeds(make_client, emulator, version):
    arr = make_client(version)
    arr.list()
    revoke_cached_token(arr)
    assert arr.list() == []
    assert token_exchanges(emulator) == 2


def test_static_token_cannot_be_refreshed(make_client, emulator):
    token = sts_token(emulator)
    assert make_client(auth="token", token=token).list() == []
    arr = make_client(auth="token", token=tampered(token))
    with pytest.raises(ArrAuthError) as caught:
        arr.list()
    assert caught.value.status == 401 and caught.value.ms_cv
    assert token_exchanges(emulator) == 1  # only the first exchange


class FakeTokenCredential:
    """Stands in for azure-identity (no Entra ID here). The emulator's token service accepts
    `{accountId}:{accountKey}` bearers, so that is the Entra token this fake hands out."""

    def __init__(self, token):
        self.token, self.scopes = token, []

    def get_token(self, *scopes, **kwargs):
        self.scopes.append(scopes)
        return type("AccessToken", (), {"token": self.token, "expires_on": 0})()


def test_entra_credential_is_exchanged_at_the_token_service(emulator):
    fake = FakeTokenCredential(f"{emulator.account_id}:{emulator.account_key}")
    account = account_for(emulator, key="", auth="entra")
    with ArrClient(account, token_credential=fake) as arr:
        assert arr.list() == []
    assert fake.scopes == [(STS_SCOPE,)]


def test_entra_token_refused_by_the_token_service_is_an_auth_error(emulator):
    fake = FakeTokenCredential("not-a-valid-entra-token")
    arr = ArrClient(account_for(emulator, key="", auth="entra"), token_credential=fake)
    with arr, pytest.raises(ArrAuthError) as caught:
        arr.list()
    assert caught.value.status == 401 and caught.value.operation == "token"


def test_wrong_key_never_leaks_into_errors_reprs_or_logs(make_client, caplog):
    secret = "wrong-but-secret-account-key-123"
    caplog.set_level(logging.DEBUG)
    arr = make_client(key=secret)
    with pytest.raises(ArrAuthError) as caught:
        arr.list()
    assert caught.value.status == 401 and caught.value.ms_cv
    texts = [str(caught.value), repr(caught.value), repr(arr), repr(arr.config), repr(arr._tokens), caplog.text]
    assert caplog.text  # the calls were logged
    assert not [t for t in texts if secret in t]


def test_access_token_never_leaks_into_logs(make_client, emulator, caplog):
    caplog.set_level(logging.DEBUG)
    arr = make_client()
    arr.create("standard", timedelta(minutes=10))
    token = arr._tokens.token()
    revoke_cached_token(arr)
    arr.list()
    assert "refreshing the access token" in caplog.text  # the refresh was logged, so a leak would show
    assert token not in caplog.text and emulator.account_key not in caplog.text
    assert token not in repr(arr) and token not in repr(arr._tokens)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_token_without_the_data_action_is_an_auth_error_with_or_without_a_body(make_client, emulator, version):
    """ARR's 403 on a session route: no body on 2021-01-01 (the spec's examples), an error body on v1."""
    arr = make_client(
        version, auth="token", token=arr_token(emulator, DEV_CONNECT_CLIENT_ID, DEV_CONNECT_CLIENT_SECRET)
    )
    assert arr.list() == []  # the connect role may read
    with pytest.raises(ArrAuthError) as caught:
        arr.create(VmSize.STANDARD, timedelta(minutes=5))
    assert caught.value.status == 403 and caught.value.ms_cv and caught.value.message
    assert emulator.truth() == []
