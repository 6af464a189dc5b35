"""The emulator's state and policies, independent of HTTP: accounts, identities, clock, sessions,
capacity, faults, stats."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from governor.core.model import VmSize
from governor.emulator import DEV_TENANT_ID, tokens
from governor.emulator.capacity import Capacity
from governor.emulator.clock import VirtualClock
from governor.emulator.connect import Connections
from governor.emulator.directory import Directory
from governor.emulator.entra import EntraIssuer
from governor.emulator.errors import ApiError
from governor.emulator.faults import Faults
from governor.emulator.store import Store

UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
STS_KINDS = ("key", "entra", "other")  # the credential an STS call presented
ENTRA_COUNTS = ("discovery", "tokenRequests", "tokensIssued")


@dataclass
class Config:
    accounts: dict[str, str] = field(repr=False)  # lower-case account id -> key (secret)
    startup_seconds: float = 5.0
    time_scale: float = 1.0
    page_size: int = 100
    faults: Faults = field(default_factory=Faults)
    tenant: str = DEV_TENANT_ID
    directory: Directory = field(default_factory=Directory)
    capacity: Capacity = field(default_factory=Capacity)


@dataclass(frozen=True)
class Caller:
    """Who presented an ARR access token: its account and the data actions it grants there."""

    account: str
    actions: frozenset[str]


def _bearer(authorization: str | None) -> str | None:
    scheme, _, credential = (authorization or "").partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else None


class Emulator:
    def __init__(self, config: Config, wall=time.time):
        self.accounts = {k.lower(): v for k, v in config.accounts.items()}
        self.page_size = config.page_size
        self.wall = wall  # real time: token expiry is compared with clients' own clocks
        self.clock = VirtualClock(config.time_scale)
        self.store = Store(self.clock.now, timedelta(seconds=config.startup_seconds))
        self.directory = config.directory
        self.entra = EntraIssuer(config.tenant)
        self.connections = Connections()
        self.faults = config.faults
        self.configured_capacity = config.capacity  # the flags': what reset returns to
        self.capacity = config.capacity
        self._faults_lock = threading.Lock()
        self._stats: Counter[str] = Counter()
        self._injected: Counter[str] = Counter()  # faults answered, by "status phase" ("latency phase")
        self._sts: Counter[str] = Counter()
        self._entra: Counter[str] = Counter()
        self._stats_lock = threading.Lock()

    # --- auth
    def issue_token(self, account: str, authorization: str | None, base_url: str) -> str:
        """The token service: `Bearer {accountId}:{accountKey}` or `Bearer <Entra token>` -> a JWT;
        401 with no body for a bad credential, 403 with no body for a principal without rights here."""
        credential = _bearer(authorization) or ""
        key = self.accounts.get(account)
        given_id, sep, given_key = credential.partition(":")
        if sep:
            self.count_sts("key")
            if key is None or given_id.lower() != account or given_key != key:
                raise ApiError(401, "Unauthorized", "", body=False)
            return tokens.issue(account, key, self.wall())
        if credential.count(".") == 2:
            self.count_sts("entra")
            claims = self.entra.verify(credential, self.wall(), base_url)
            if key is None or claims is None:
                raise ApiError(401, "Unauthorized", "", body=False)
            actions = self.directory.actions(account, claims["appid"])
            if not actions:
                raise ApiError(403, "Forbidden", "", body=False)
            return tokens.issue(account, key, self.wall(), actions, principal=claims["appid"])
        self.count_sts("other")
        raise ApiError(401, "Unauthorized", "", body=False)

    def caller(self, authorization: str | None) -> Caller:
        """The holder of an issued access token, or 401 with an empty body."""
        token = _bearer(authorization) or ""
        claimed = tokens.account_of(token)
        key = self.accounts.get(claimed) if claimed else None
        claims = tokens.claims(token, key, self.wall()) if key is not None else None
        if claims is None:
            raise ApiError(401, "Unauthorized", "", headers=UNAUTHORIZED_HEADERS, body=False)
        assert claimed is not None  # claims come only from the key of the account the token claims
        return Caller(claimed, tokens.actions_of(claims))

    def authorize(self, account: str, authorization: str | None, action: str) -> Caller:
        """401 without a valid token; 403 for another account's token or one without `action`."""
        caller = self.caller(authorization)
        if caller.account != account:
            raise ApiError(403, "Forbidden", "The access token does not grant access to this account.")
        require_action(caller, action)
        return caller

    # --- capacity
    def create_session(self, account: str, sid: str | None, size: VmSize, lease: timedelta, api_version: str):
        """Store.create with the account's servers of `size` and the capacityFailures fault."""
        servers = self.capacity.servers(account, size)
        return self.store.create(account, sid, size, lease, api_version, self.take_capacity_failure, servers)

    def capacity_json(self) -> dict:
        return self.capacity.to_json(self.accounts, {account: self.store.in_use(account) for account in self.accounts})

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

    def count_sts(self, kind: str) -> None:
        with self._stats_lock:
            self._sts[kind] += 1

    def count_entra(self, kind: str) -> None:
        with self._stats_lock:
            self._entra[kind] += 1

    def stats(self) -> dict:
        with self._stats_lock:
            requests = dict(sorted(self._stats.items()))
            faults = dict(sorted(self._injected.items()))
            sts = {kind: self._sts[kind] for kind in STS_KINDS}
            entra = {kind: self._entra[kind] for kind in ENTRA_COUNTS}
        return {"requests": requests, "total": sum(requests.values()), "faults": faults, "sts": sts, "entra": entra}

    def clear_stats(self) -> None:
        with self._stats_lock:
            self._stats.clear()
            self._injected.clear()
            self._sts.clear()
            self._entra.clear()

    def reset(self) -> None:
        self.store.reset()
        self.connections.reset()
        self.directory.reset()
        self.set_faults(Faults())
        self.capacity = self.configured_capacity
        self.clock.reset()
        self.clear_stats()


def require_action(caller: Caller, action: str) -> None:
    if action not in caller.actions:
        raise ApiError(403, "Forbidden", f"The access token does not grant the data action '{action}' on this account.")
