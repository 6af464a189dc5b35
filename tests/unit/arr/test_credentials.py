import base64
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from governor.arr.accounts import EntraIdentity
from governor.arr.credentials import (
    STS_SCOPE,
    AccountKeyCredential,
    EntraCredential,
    StaticToken,
    TokenProvider,
    jwt_expiry,
)
from governor.arr.errors import ArrAuthError

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def jwt(exp: datetime | None, n: int = 0) -> str:
    claims = {"n": n} if exp is None else {"exp": int(exp.timestamp()), "n": n}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"h.{payload}.s"


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


class Sts:
    """Stands in for the STS round trip (the HTTP path is tested against the emulator)."""

    def __init__(self, lifetime=timedelta(hours=24), delay=0.0):
        self.calls, self.lifetime, self.delay, self.clock = [], lifetime, delay, None

    def __call__(self, bearer):
        time.sleep(self.delay)
        self.calls.append(bearer)
        return jwt(self.clock() + self.lifetime, len(self.calls))


def provider(credential=None, lifetime=timedelta(hours=24), delay=0.0):
    clock, sts = Clock(), Sts(lifetime, delay)
    sts.clock = clock
    return TokenProvider(credential or AccountKeyCredential("acc", "key"), sts, clock), clock, sts


def test_jwt_expiry_reads_exp_and_tolerates_garbage():
    assert jwt_expiry(jwt(T0)) == T0
    assert jwt_expiry("fake.eyJleHAiOjIxNDc0ODM2NDd9.fake") == datetime.fromtimestamp(2147483647, UTC)
    for junk in ("", "a.b", "a.!!!.c", jwt(None), None):
        assert jwt_expiry(junk) is None


def test_token_cached_until_shortly_before_exp_then_refetched():
    tokens, clock, sts = provider()
    first = tokens.token()
    assert sts.calls == ["acc:key"]
    clock.now = T0 + timedelta(hours=23, minutes=54)
    assert tokens.token() == first and len(sts.calls) == 1
    clock.now = T0 + timedelta(hours=23, minutes=56)  # inside the 5-minute margin
    assert tokens.token() != first and len(sts.calls) == 2


def test_short_lived_tokens_refresh_at_a_tenth_of_their_life():
    tokens, clock, sts = provider(lifetime=timedelta(seconds=100))
    tokens.token()
    clock.now = T0 + timedelta(seconds=89)
    tokens.token()
    assert len(sts.calls) == 1
    clock.now = T0 + timedelta(seconds=91)
    tokens.token()
    assert len(sts.calls) == 2


def test_invalidate_drops_only_the_refused_token():
    tokens, _, sts = provider()
    old = tokens.token()
    tokens.invalidate("some-other-token")
    assert tokens.token() == old
    tokens.invalidate(old)
    assert tokens.token() != old and len(sts.calls) == 2


def test_concurrent_first_use_fetches_once():
    tokens, _, sts = provider(delay=0.05)
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(tokens.token())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sts.calls) == 1 and len(set(seen)) == 1


def test_static_token_is_never_exchanged_nor_refreshable():
    tokens, _, sts = provider(StaticToken("ready-token"))
    assert tokens.token() == "ready-token" and not tokens.refreshable and sts.calls == []


class FakeTokenCredential:
    def __init__(self, fail=False):
        self.scopes, self.fail = [], fail

    def get_token(self, *scopes, **kwargs):
        self.scopes.append(scopes)
        if self.fail:
            raise RuntimeError("no managed identity endpoint (secret-ish detail)")
        return type("AccessToken", (), {"token": "entra-jwt", "expires_on": 0})()


def test_entra_credential_asks_for_the_sts_scope():
    fake = FakeTokenCredential()
    tokens, _, sts = provider(EntraCredential(fake))
    tokens.token()
    assert fake.scopes == [(STS_SCOPE,)] and sts.calls == ["entra-jwt"]


def test_entra_failure_is_an_auth_error_without_the_inner_text():
    with pytest.raises(ArrAuthError) as caught:
        EntraCredential(FakeTokenCredential(fail=True)).sts_bearer()
    assert "RuntimeError" in str(caught.value) and "secret-ish" not in str(caught.value)


def test_reprs_hide_secrets():
    tokens, _, _ = provider(AccountKeyCredential("acc", "the-key"))
    fetched = tokens.token()
    static = TokenProvider(StaticToken("the-static-token"), Sts(), Clock())
    static.token()
    for text in (repr(tokens), repr(AccountKeyCredential("acc", "the-key")), repr(static)):
        assert "the-key" not in text and fetched not in text and "the-static-token" not in text, text


@pytest.fixture
def identities(monkeypatch):
    """azure-identity's two credentials, replaced by fakes that say which one gave the token (no
    managed identity or developer login exists here)."""
    import azure.identity

    built = []

    def fake(name):
        class Credential(FakeTokenCredential):
            def __init__(self, **kwargs):
                super().__init__()
                built.append(name)
                self.kwargs = kwargs

            def get_token(self, *scopes, **kwargs):
                super().get_token(*scopes, **kwargs)
                return type("AccessToken", (), {"token": f"{name}-jwt", "expires_on": 0})()

        Credential.__name__ = name
        return Credential

    for name in ("ManagedIdentityCredential", "DefaultAzureCredential"):
        monkeypatch.setattr(azure.identity, name, fake(name))
    return built


@pytest.mark.parametrize(
    ("in_azure", "expected"), [(True, "ManagedIdentityCredential"), (False, "DefaultAzureCredential")]
)
def test_entra_default_credential_depends_on_where_it_runs(identities, in_azure, expected):
    credential = EntraCredential(in_azure=in_azure)
    assert identities == []  # built on first use, not before
    assert credential.sts_bearer() == credential.sts_bearer() == f"{expected}-jwt"
    assert identities == [expected] and repr(credential) == f"EntraCredential({expected}, client_id=None)"


def test_entra_default_credential_follows_the_platform(identities, monkeypatch):
    monkeypatch.setenv("WEBSITE_INSTANCE_ID", "instance-1")
    assert EntraCredential().sts_bearer() == "ManagedIdentityCredential-jwt"
    monkeypatch.delenv("WEBSITE_INSTANCE_ID")
    assert EntraCredential().sts_bearer() == "DefaultAzureCredential-jwt"


def test_a_user_assigned_identity_is_asked_by_its_client_id(identities):
    """The connect identity is a user-assigned managed identity beside the app's system-assigned
    one: without its client id, the token would carry the governor's own rights."""
    credential = EntraCredential(in_azure=True, identity=EntraIdentity(client_id="connect-client"))
    assert credential.sts_bearer() == "ManagedIdentityCredential-jwt"
    assert credential._credential.kwargs == {"client_id": "connect-client"}
    assert EntraCredential(in_azure=True)._get().kwargs == {"client_id": None}  # the system-assigned one
