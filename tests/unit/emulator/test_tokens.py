import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from governor.emulator import tokens

NOW = 1_800_000_000


@given(st.uuids().map(str), st.integers(min_value=0, max_value=4_000_000_000))
def test_payload_reads_the_same_in_standard_and_urlsafe_base64(account, now):
    token = tokens.issue(account, "key", now)
    payload = token.split(".")[1]
    assert "+" not in payload and "/" not in payload and "-" not in payload and "_" not in payload
    claims = json.loads(base64.b64decode(payload + "==="))  # how the official SDK reads it
    assert claims["exp"] == now + tokens.TOKEN_LIFETIME_SECONDS
    assert claims["aid"] == account


def test_verify_accepts_only_the_right_key_before_expiry():
    token = tokens.issue("acc", "key", NOW)
    assert tokens.account_of(token) == "acc"
    assert tokens.verify(token, "key", NOW + 10)
    assert not tokens.verify(token, "other", NOW + 10)
    assert not tokens.verify(token, "key", NOW + tokens.TOKEN_LIFETIME_SECONDS)


def test_tampered_claims_fail_verification():
    head, _claims, signature = tokens.issue("acc", "key", NOW).split(".")
    forged = base64.b64encode(json.dumps({"aid": "acc", "exp": NOW * 2}).encode()).decode().rstrip("=")
    assert not tokens.verify(f"{head}.{forged}.{signature}", "key", NOW)


@given(st.text(max_size=80))
def test_garbage_never_raises(text):
    assert tokens.verify(text, "key", NOW) is False  # garbage never passes for a token
    assert tokens.account_of(text) is None or isinstance(tokens.account_of(text), str)
