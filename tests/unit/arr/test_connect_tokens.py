"""The connect token cache: one STS call serves every client of an account until a session needs
a token that outlives its lease, and never more than one call an hour for long leases."""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import UTC, datetime, timedelta

from governor.arr.connect import MARGIN, REFRESH_EVERY, ConnectTokens

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
LIFETIME = timedelta(hours=24)  # the token service's


def _jwt(exp: datetime, n: int) -> str:
    payload = base64.urlsafe_b64encode(json.dumps({"exp": int(exp.timestamp()), "n": n}).encode()).decode()
    return f"h.{payload.rstrip('=')}.s"


class Sts:
    """A token service with a clock: each call mints a token that lives LIFETIME from now."""

    def __init__(self, clock, delay: float = 0.0):
        self.clock, self.delay, self.calls, self.bearers = clock, delay, 0, []

    def exchange(self, bearer: str) -> str:
        self.bearers.append(bearer)
        time.sleep(self.delay)
        self.calls += 1
        return _jwt(self.clock() + LIFETIME, self.calls)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


def _tokens(delay: float = 0.0):
    clock = Clock()
    sts = Sts(clock, delay)
    return ConnectTokens(lambda: "connect-identity-bearer", sts.exchange, clock), sts, clock


def test_one_token_serves_every_session_that_it_outlives():
    tokens, sts, clock = _tokens()
    first = tokens.token(timedelta(hours=2))
    for minutes in range(0, 120, 7):
        clock.now = T0 + timedelta(minutes=minutes)
        assert tokens.token(timedelta(hours=4)) == first
    assert sts.calls == 1 and sts.bearers == ["connect-identity-bearer"]
    assert first.expires_on == T0 + LIFETIME


def test_a_token_that_would_expire_before_the_lease_plus_margin_is_replaced():
    tokens, sts, clock = _tokens()
    first = tokens.token(timedelta(hours=1))
    clock.now = T0 + timedelta(hours=20)  # 4 h left
    assert tokens.token(timedelta(hours=3, minutes=50)) == first  # exactly lease + margin left
    second = tokens.token(timedelta(hours=3, minutes=51))
    assert second != first and sts.calls == 2
    assert second.expires_on - clock.now >= timedelta(hours=3, minutes=51) + MARGIN


def test_leases_longer_than_any_token_refresh_at_most_hourly():
    tokens, sts, clock = _tokens()
    tokens.token(timedelta(hours=24))  # the longest lease ARR allows: no token covers it plus the margin
    for minutes in range(0, 6 * 60, 5):
        clock.now = T0 + timedelta(minutes=minutes)
        tokens.token(timedelta(hours=24))
    assert sts.calls == 6  # one per REFRESH_EVERY over six hours, not one per call
    assert timedelta(hours=1) == REFRESH_EVERY


def test_an_almost_expired_token_is_never_handed_out():
    tokens, sts, clock = _tokens()
    first = tokens.token(timedelta(0))
    clock.now = T0 + LIFETIME - MARGIN
    assert tokens.token(timedelta(0)) != first and sts.calls == 2


def test_thirty_clients_at_once_make_one_call():
    tokens, sts, _ = _tokens(delay=0.05)
    seen, barrier = [], threading.Barrier(30)

    def client():
        barrier.wait()
        seen.append(tokens.token(timedelta(hours=1)))

    threads = [threading.Thread(target=client) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sts.calls == 1 and len({t.token for t in seen}) == 1 and len(seen) == 30


def test_the_token_never_shows_in_a_repr():
    tokens, _, _ = _tokens()
    token = tokens.token(timedelta(0))
    assert token.token not in repr(token) and token.token not in repr(tokens)
