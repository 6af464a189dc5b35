"""Access tokens the connect route hands to client apps, one cache per account and instance.

A token is for the account, not for one session, so one token serves every client of the account
until it is too short-lived for the session asking: a cached token is handed out only with at least
the session's remaining lease plus `MARGIN` left. STS tokens live a fixed time (24 h), so a lease
longer than a fresh token is served by a token at most `REFRESH_EVERY` old: STS sees at most one
call per account and instance per `REFRESH_EVERY`. Fetches are single-flight.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from governor.arr.credentials import NO_EXP_LIFETIME, jwt_expiry
from governor.core.model import ConnectToken

MARGIN = timedelta(minutes=10)
REFRESH_EVERY = timedelta(hours=1)


class ConnectTokens:
    """`bearer()` gives the connect credential's STS bearer; `exchange(bearer)` calls the STS."""

    def __init__(
        self,
        bearer: Callable[[], str],
        exchange: Callable[[str], str],
        clock: Callable[[], datetime],
    ):
        self._bearer = bearer
        self._exchange = exchange
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: ConnectToken | None = None
        self._lifetime = timedelta(0)  # of the last fresh token
        self.fetches = 0

    def token(self, lease_left: timedelta) -> ConnectToken:
        wanted = max(lease_left, timedelta(0)) + MARGIN
        with self._lock:
            cached = self._cached
            if cached is None or not self._fresh_enough(cached, wanted):
                cached = self._cached = self._fetch()
            return cached

    def _fresh_enough(self, cached: ConnectToken, wanted: timedelta) -> bool:
        left = cached.expires_on - self._clock()
        # a lease longer than any token can cover takes the newest token at most REFRESH_EVERY old
        return left >= min(wanted, self._lifetime - REFRESH_EVERY) and left > MARGIN

    def _fetch(self) -> ConnectToken:
        token = self._exchange(self._bearer())
        self.fetches += 1
        now = self._clock()
        expires = jwt_expiry(token) or now + NO_EXP_LIFETIME
        self._lifetime = expires - now
        return ConnectToken(token, expires)

    def __repr__(self) -> str:
        return f"ConnectTokens(cached={self._cached is not None}, fetches={self.fetches})"
