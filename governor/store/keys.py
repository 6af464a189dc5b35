"""PartitionKey/RowKey validation and the row-key layout of the governor's tables.

Table Storage refuses `/ \\ # ?` and control characters in keys and keys over 1 KiB.
We count the size in UTF-16 (the service's own encoding), so a key we accept is one Azure
accepts, even though Azurite is laxer. Pure: no I/O.
"""

from __future__ import annotations

import re

from governor.core.policy.limits import PROJECT_NAME
from governor.store.errors import InvalidKey

MAX_KEY_BYTES = 1024
_FORBIDDEN = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")

# Ledger partition (PartitionKey = project name) row keys. "!" sorts before letters.
STATE_ROW = "!state"
OPEN_PREFIX = "open|"
CLOSED_PREFIX = "closed|"
MOVED_PREFIX = "moved|"  # a v1 reservation id -> the ARR session id its row moved to on activation
USAGE_PREFIX = "usage|"


def check_key(field: str, value: object) -> str:
    """Return `value` if it can be a PartitionKey/RowKey, else raise InvalidKey naming `field`."""
    if not isinstance(value, str):
        raise InvalidKey(field, f"must be a string, not {type(value).__name__}")
    if value == "":
        raise InvalidKey(field, "must not be empty")
    bad = _FORBIDDEN.search(value)
    if bad:
        raise InvalidKey(field, f"must not contain {_describe(bad.group())} (/ \\ # ? and control characters)")
    if len(value.encode("utf-16-le")) > MAX_KEY_BYTES:
        raise InvalidKey(field, f"is longer than {MAX_KEY_BYTES} bytes (1 KiB as UTF-16)")
    return value


def check_project_name(name: object, field: str = "project") -> str:
    check_key(field, name)
    if not PROJECT_NAME.accepts(name):
        raise InvalidKey(field, PROJECT_NAME.hint)
    return name  # type: ignore[return-value]


def _describe(char: str) -> str:
    return repr(char) if char in "/\\#?" else f"control character U+{ord(char):04X}"


def open_key(session_id: str) -> str:
    return check_key("sessionId", OPEN_PREFIX + check_key("sessionId", session_id))


def closed_key(session_id: str) -> str:
    return check_key("sessionId", CLOSED_PREFIX + check_key("sessionId", session_id))


def moved_key(reservation_id: str) -> str:
    return check_key("reservationId", MOVED_PREFIX + check_key("reservationId", reservation_id))


def usage_key(period: str, key: str) -> str:
    return check_key("period", f"{USAGE_PREFIX}{period}|{key}")


def prefix_range(prefix: str) -> tuple[str, str]:
    """[low, high) bounds of the row keys that start with `prefix`."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)
