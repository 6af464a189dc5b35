"""The emulator's state and policies, independent of HTTP: accounts, clock, sessions, faults, stats."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from governor.emulator import tokens
from governor.emulator.clock import VirtualClock
from governor.emulator.errors import ApiError
from governor.emulator.faults import Faults
from governor.emulator.store import Store

UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


@dataclass
class Config:
    accounts: dict[str, str] = field(repr=False)  # lower-case account id -> key (secret)
    startup_seconds: float = 5.0
    time_scale: float = 1.0
    page_size: int = 100
    faults: Faults = field(default_factory=Faults)


class Emulator:
    def __init__(self, config: Config, wall=time.time):
        self.accounts = {k.lower(): v for k, v in config.accounts.items()}
        self.page_size = config.page_size
        self.wall = wall  # real time: token expiry is compared with clients' own clocks
        self.clock = VirtualClock(config.time_scale)
        self.store = Store(self.clock.now, timedelta(seconds=config.startup_seconds))
        self.faults = config.faults
        self._faults_lock = threading.Lock()
        self._stats: Counter[str] = Counter()
        self._injected: Counter[str] = Counter()  # faults answered, by "status phase" ("latency phase")
        self._stats_lock = threading.Lock()

    # --- auth
    def issue_token(self, account: str, authorization: str | None) -> str:
        """The token service: `Bearer {accountId}:{accountKey}` -> a JWT, else 401 with no body."""
        key = self.accounts.get(account)
        scheme, _, credential = (authorization or "").partition(" ")
        given_id, sep, given_key = credential.strip().partition(":")
        if key is None or scheme.lower() != "bearer" or not sep or given_id.lower() != account or given_key != key:
            raise ApiError(401, "Unauthorized", "", body=False)
        return tokens.issue(account, key, self.wall())

    def authorize(self, account: str, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        claimed = tokens.account_of(token) if scheme.lower() == "bearer" else None
        key = self.accounts.get(claimed) if claimed else None
        if key is None or not tokens.verify(token, key, self.wall()):
            raise ApiError(401, "Unauthorized", "", headers=UNAUTHORIZED_HEADERS, body=False)
        if claimed != account:
            raise ApiError(403, "Forbidden", "The access token does not grant access to this account.")

    # --- faults
    def set_faults(self, faults: Faults) -> None:
        with self._faults_lock:
            self.faults = faults

    def take_capacity_failure(self) -> bool:
        with self._faults_lock:
            if self.faults.capacity_failures > 0:
                self.faults.capacity_failures -= 1
                return True
            return False

    # --- stats
    def count(self, key: str) -> None:
        with self._stats_lock:
            self._stats[key] += 1

    def count_fault(self, key: str) -> None:
        with self._stats_lock:
            self._injected[key] += 1

    def stats(self) -> dict:
        with self._stats_lock:
            requests = dict(sorted(self._stats.items()))
            faults = dict(sorted(self._injected.items()))
        return {"requests": requests, "total": sum(requests.values()), "faults": faults}

    def clear_stats(self) -> None:
        with self._stats_lock:
            self._stats.clear()
            self._injected.clear()

    def reset(self) -> None:
        self.store.reset()
        self.set_faults(Faults())
        self.clock.reset()
        self.clear_stats()
