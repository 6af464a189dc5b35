"""Access tokens of the emulated token service: HS256 JWTs signed with the account key. Pure.

The official SDK reads `exp` by decoding the payload with *standard* base64, which silently
drops `-` and `_`; tokens are therefore minted so that their payload segment is the same in
standard and URL-safe base64 (a nonce is bumped until no `+`/`/` appears).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

TOKEN_LIFETIME_SECONDS = 24 * 3600
_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: str, signing_input: str) -> str:
    digest = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue(account_id: str, account_key: str, now_epoch: float) -> str:
    iat = int(now_epoch)
    for nonce in range(100_000):
        claims = {"aid": account_id, "iat": iat, "exp": iat + TOKEN_LIFETIME_SECONDS, "n": nonce}
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        if "+" not in payload and "/" not in payload:
            break
    signing_input = f"{_HEADER}.{payload}"
    return f"{signing_input}.{_sign(account_key, signing_input)}"


def account_of(token: str) -> str | None:
    """The account a token claims, unverified (to pick the key to verify with)."""
    try:
        claims = json.loads(_unb64(token.split(".")[1]))
        account = claims.get("aid") if isinstance(claims, dict) else None
    except (ValueError, IndexError, UnicodeDecodeError):
        return None
    return account if isinstance(account, str) else None


def verify(token: str, account_key: str, now_epoch: float) -> bool:
    parts = token.split(".")
    if len(parts) != 3:
        return False
    expected = _sign(account_key, f"{parts[0]}.{parts[1]}")
    if not hmac.compare_digest(expected.encode(), parts[2].encode()):
        return False
    try:
        exp = json.loads(_unb64(parts[1])).get("exp")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return False
    return isinstance(exp, int) and exp > now_epoch
