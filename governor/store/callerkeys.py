"""Caller keys: random, shown once, stored only as salted scrypt hashes, checked in constant time.

Keys carry 256 bits of randomness, so scrypt is defence in depth rather than what makes a key
hard to guess; n=2**12 keeps a gate request's check near 20 ms. The parameters travel with each
hash, so they can be raised later without invalidating stored keys. Pure stdlib, no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "gk_"
_N, _R, _P, _DKLEN = 2**12, 8, 1, 32


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_key(key: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(key.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_key(key: object, stored: str) -> bool:
    if not isinstance(key, str) or not key or len(key) > 256:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = hashlib.scrypt(
            key.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected), maxmem=2**26
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
