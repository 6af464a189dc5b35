"""Recently verified caller keys, so a client's repeated calls do not look their key up every time.

Entries are keyed by an HMAC of (projects table, project, key) under a random per-process
secret: the cache never holds a key or anything that can be checked against one outside this
process. Each holds what the key verified as (its name and limits, never a secret). Only
successes are remembered, for `ttl` seconds, at most `max_size` of them (oldest
dropped first), each with the project's keys version it was verified under: `hit` with another
version finds nothing (and drops the entry), so a key added, revoked or rotated on any instance
bumps the version in the project row and every instance stops trusting what it cached as soon
as it reads the row (the gate reads it on every request). `forget(project)` also drops a
project's entries at once in this process. Pure stdlib, no I/O; the clock is injectable for tests.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

TTL_SECONDS = 60.0
MAX_SIZE = 1024


class VerifiedKeys:
    def __init__(self, ttl: float = TTL_SECONDS, max_size: int = MAX_SIZE, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.max_size = max_size
        self._clock = clock
        self._secret = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, tuple[tuple[str, str], float, Any, Any]] = OrderedDict()
        self._generations: dict[tuple[str, str], int] = {}

    def __repr__(self) -> str:
        return f"VerifiedKeys(ttl={self.ttl}, size={len(self._entries)}/{self.max_size})"

    def _digest(self, scope: tuple[str, str], key: str) -> bytes:
        message = "\0".join((*scope, key)).encode("utf-8", "surrogatepass")
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def generation(self, scope: tuple[str, str]) -> int:
        """Read before the row a verification checks; `remember` refuses if a `forget` came between."""
        with self._lock:
            return self._generations.get(scope, 0)

    def hit(self, scope: tuple[str, str], key: str, version: Any = None) -> Any:
        """What `key` verified as (the value given to `remember`), or None when not cached or when it
        was cached under another keys `version` than the one given (the project's current one)."""
        digest = self._digest(scope, key)
        now = self._clock()
        with self._lock:
            found = self._entries.get(digest)
            if found is None:
                return None
            if found[1] <= now or found[3] != version:
                del self._entries[digest]
                return None
            return found[2]

    def remember(
        self, scope: tuple[str, str], key: str, generation: int, value: Any = True, version: Any = None
    ) -> None:
        """Remember that `key` verified as `value` under the project's keys `version`."""
        digest = self._digest(scope, key)
        expires = self._clock() + self.ttl
        with self._lock:
            if self._generations.get(scope, 0) != generation:
                return  # the key was rotated (or the project rewritten) while we checked it
            self._entries[digest] = (scope, expires, value, version)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)

    def forget(self, scope: tuple[str, str]) -> None:
        with self._lock:
            self._generations[scope] = self._generations.get(scope, 0) + 1
            for digest in [d for d, (s, *_) in self._entries.items() if s == scope]:
                del self._entries[digest]

    def __len__(self) -> int:
        return len(self._entries)


PROCESS_CACHE = VerifiedKeys()
