"""HS256 JSON Web Tokens, as the emulated token services mint them. Pure.

The official ARR SDK reads `exp` by decoding the payload with *standard* base64, which silently
drops `-` and `_`; payloads are therefore minted so that their segment is the same in standard and
URL-safe base64 (a nonce claim is added until no `+`/`/` appears; compact ASCII JSON needs none).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
_NONCE_TRIES = 1000


def _b64(data: bytes) -> str:
    return base64.b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key_bytes(key: str | bytes) -> bytes:
    return key.encode() if isinstance(key, str) else key


def _sign(key: str | bytes, signing_input: str) -> str:
    digest = hmac.new(_key_bytes(key), signing_input.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def encode(claims: dict, key: str | bytes) -> str:
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    for nonce in range(1, _NONCE_TRIES):
        if "+" not in payload and "/" not in payload:
            break
        payload = _b64(json.dumps({**claims, "n": nonce}, separators=(",", ":")).encode())
    signing_input = f"{_HEADER}.{payload}"
    return f"{signing_input}.{_sign(key, signing_input)}"


def peek(token: str) -> dict | None:
    """The claims, unverified (to pick the key to verify with); None if unreadable."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(_unb64(parts[1]))
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: JSON nested too deeply
        return None
    return claims if isinstance(claims, dict) else None


def decode(token: str, key: str | bytes, now_epoch: float) -> dict | None:
    """The claims of a token signed with `key` whose integer `exp` is after now; else None."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        return None
    expected = _sign(key, f"{parts[0]}.{parts[1]}")
    if not hmac.compare_digest(expected.encode(), parts[2].encode("utf-8", "replace")):
        return None
    claims = peek(token)
    exp = claims.get("exp") if claims else None
    if isinstance(exp, bool) or not isinstance(exp, int) or exp <= now_epoch:
        return None
    return claims
