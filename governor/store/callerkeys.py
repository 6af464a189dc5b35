"""Caller keys: random, shown once, stored only as hashes, checked in constant time. Pure stdlib, no I/O.

A key is `gk_<keyId>_<secret>`: `keyId` is 16 hex digits (64 random bits) naming the key's row in
the project's key list, `secret` is 256 random bits (43 URL-safe base64 characters). The gate
finds the one record by id and checks one hash: HMAC-SHA256 of the whole key under the
deployment's pepper (GOVERNOR_KEY_PEPPER), or plain SHA-256 when no pepper is set. A secret of
256 random bits needs no slow KDF: nobody can guess it, so a fast keyed hash is the norm for
API tokens, and a wrong key costs microseconds whatever the number of keys.

Keys issued before this format (`gk_` + 43 characters, salted scrypt hashes with n=2**12) keep
verifying, the slow way, until they are rotated. The scheme travels with each stored hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

PREFIX = "gk"
KEY_ID_HEX = 16  # 64 bits: unique within a project's at most 100 keys
SECRET_BYTES = 32  # 256 bits
_SECRET_CHARS = 43  # len(token_urlsafe(32))
_KEY = re.compile(rf"{PREFIX}_([0-9a-f]{{{KEY_ID_HEX}}})_[A-Za-z0-9_-]{{{_SECRET_CHARS}}}")
_LEGACY = re.compile(rf"{PREFIX}_[A-Za-z0-9_-]{{{_SECRET_CHARS}}}")
KEY_ID = re.compile(rf"[0-9a-f]{{{KEY_ID_HEX}}}")
HMAC_SCHEME = "hmac-sha256"
SHA_SCHEME = "sha256"
_N, _R, _P, _DKLEN = 2**12, 8, 1, 32  # the legacy scrypt parameters (hash_key)


def new_key_id() -> str:
    return secrets.token_hex(KEY_ID_HEX // 2)


def new_key(key_id: str | None = None) -> str:
    """A new key carrying `key_id` (a fresh one when None)."""
    key_id = key_id if key_id is not None else new_key_id()
    if not KEY_ID.fullmatch(key_id):
        raise ValueError("a key id is 16 lower-case hex digits")
    return f"{PREFIX}_{key_id}_{secrets.token_urlsafe(SECRET_BYTES)}"


def key_id_of(key: object) -> str | None:
    """The id a well-formed key carries, or None (malformed or legacy): no hashing, no lookup."""
    if not isinstance(key, str) or len(key) != len(PREFIX) + KEY_ID_HEX + _SECRET_CHARS + 2:
        return None
    match = _KEY.fullmatch(key)
    return match.group(1) if match else None


def is_legacy_shape(key: object) -> bool:
    """A key of the shape issued before key ids (`gk_` + 43 characters): checked against scrypt hashes."""
    return isinstance(key, str) and len(key) == len(PREFIX) + 1 + _SECRET_CHARS and bool(_LEGACY.fullmatch(key))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _digest(key: str, pepper: bytes | None) -> bytes:
    if pepper:
        return hmac.new(pepper, key.encode(), hashlib.sha256).digest()
    return hashlib.sha256(key.encode()).digest()


def hash_new_key(key: str, pepper: bytes | None) -> str:
    """The stored form of a new-format key: `hmac-sha256$<digest>` (pepper set) or `sha256$<digest>`."""
    return f"{HMAC_SCHEME if pepper else SHA_SCHEME}${_b64(_digest(key, pepper))}"


def hash_key(key: str, salt: bytes | None = None) -> str:
    """The legacy salted scrypt hash (what keys issued before key ids are stored as)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(key.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def is_slow(stored: object) -> bool:
    return isinstance(stored, str) and stored.startswith("scrypt$")


def verify_key(key: object, stored: str, pepper: bytes | None = None) -> bool:
    """Whether `key` is the key `stored` is the hash of, compared in constant time.

    A `hmac-sha256` hash needs the pepper it was made with; a `sha256` one verifies whatever the pepper."""
    if not isinstance(key, str) or not key or len(key) > 256 or not isinstance(stored, str):
        return False
    try:
        scheme, _, rest = stored.partition("$")
        if scheme == HMAC_SCHEME:
            return bool(pepper) and hmac.compare_digest(_digest(key, pepper), _unb64(rest))
        if scheme == SHA_SCHEME:
            return hmac.compare_digest(_digest(key, None), _unb64(rest))
        if scheme != "scrypt":
            return False
        n, r, p, salt, digest = rest.split("$")
        expected = _unb64(digest)
        actual = hashlib.scrypt(
            key.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected), maxmem=2**26
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
