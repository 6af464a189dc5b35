"""Projects table: one row per project (PartitionKey "project", RowKey = name).

The row holds the policy, the named caller keys (`Keys`: id, name, hash, scope, creation, expiry,
limits), their version (`KeysVersion`, a new random value in the same write as any key change
and on creating the project) and the webhook secret. Last use of a key lives in its own row
(`keyuse` partition), so the gate's touch never races an admin's write of the project row.

A key is found by the id it carries (`gk_<keyId>_<secret>`, callerkeys.py) and one hash is
checked; a malformed key is refused before any read and an unknown id costs no hash. A cached
verification is trusted only under the keys version of the project row this process read last,
at most PROJECT_ROW_SECONDS ago (the gate acts on a row that recent, `get_project(max_age=)`), so
a revocation on any instance is seen everywhere within that bound; a write through any store of
the process drops its copy at once.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from datetime import UTC, datetime

from governor.core.model import CallerKey, CallerLimits, ProjectPolicy, utcnow
from governor.core.policy.callers import DEFAULT_KEY, KEY_SCOPES, MAX_KEYS, OWN_SCOPE, PROJECT_ROW_SECONDS
from governor.settings import load
from governor.store import callerkeys
from governor.store.base import TablesBase, write_op
from governor.store.entities import entity_to_policy, get, policy_to_entity
from governor.store.errors import DuplicateEntry, InvalidEntity, NotFound
from governor.store.keycache import PROCESS_CACHE, VerifiedKeys
from governor.store.keys import check_key, check_project_name, prefix_range

log = logging.getLogger(__name__)

PROJECT_PARTITION = "project"
KEY_USE_PARTITION = "keyuse"  # RowKey "<project>|<key name>": LastUsedAt, written apart from the project row
_SECRET_COLUMNS = ("Keys", "KeyHashes", "WebhookSecret", "KeysVersion")
KEYS_VERSION = "KeysVersion"
TOUCH_SECONDS = 60.0
_touched: dict[tuple[str, str, str], float] = {}
_touch_lock = threading.Lock()
# (projects table, project) -> (row or None, monotonic time of the read), shared by every store of
# the process so a write through one drops what all would reuse
_rows: dict[tuple[str, str], tuple[dict | None, float]] = {}
_rows_lock = threading.Lock()
_written: dict[tuple[str, str], float] = {}  # when this process last wrote the row (monotonic)
# The keys parsed from the last project row an admission's round read, by project: a burst's rounds
# share that row (see `caller_keys`), so its key list is parsed once, not once per round.
_parsed_keys: dict[tuple[str, str], tuple[dict, list[CallerKey]]] = {}


def new_keys_version() -> str:
    return secrets.token_hex(8)


def keys_version(row: dict) -> str:
    return get(row, KEYS_VERSION, "")


class ProjectsRepo(TablesBase):
    # Shared by every store of the process, so a rotation through one is seen by all.
    verified_keys: VerifiedKeys = PROCESS_CACHE
    # TableStore.from_settings sets it; a store built without settings reads the environment's once
    # (see `_pepper`); b"": none (plain SHA-256)
    key_pepper: bytes | None = None
    keys_row_seconds: float = PROJECT_ROW_SECONDS

    def _key_scope(self, name: str) -> tuple[str, str]:
        return (self.tables.projects, name)

    def _pepper(self) -> bytes:
        if self.key_pepper is None:
            self.key_pepper = configured_pepper()
        return self.key_pepper

    def _project_row(self, name: str) -> dict | None:
        scope = (self.tables.projects, name)
        started = time.monotonic()
        row = self._point(self.tables.projects, PROJECT_PARTITION, check_project_name(name))
        with _rows_lock:
            # Kept as old as its read's start, and only if no read that started later was kept, nor
            # a write through this process made since it started: two requests of one instance
            # reading at once must not leave the older row (a key added just now missing) behind.
            found = _rows.get(scope)
            if (found is None or found[1] <= started) and _written.get(scope, 0.0) < started:
                _rows[scope] = (row, started)
        return row

    def _recent_row(self, name: str, max_age: float) -> dict | None:
        """The project row as this process read it at most `max_age` seconds ago, else a fresh read."""
        if max_age > 0:
            with _rows_lock:
                found = _rows.get((self.tables.projects, name))
            if found is not None and time.monotonic() - found[1] <= max_age:
                return found[0]
        return self._project_row(name)

    def _forget_row(self, name: str) -> None:
        """After a write through this store: the next key check and policy read read the row again."""
        self.verified_keys.forget(self._key_scope(name))
        with _rows_lock:
            _rows.pop((self.tables.projects, name), None)
            _written[(self.tables.projects, name)] = time.monotonic()

    def _keys_row(self, name: str) -> dict | None:
        """The keys and their version a key is checked against: the row the gate's `get_project` of
        the same request acted on, or one as recent."""
        return self._recent_row(name, self.keys_row_seconds)

    def get_project(self, name: str, max_age: float = 0.0) -> ProjectPolicy | None:
        """`max_age`: a row this process read that recently will do (the gate's requests)."""
        row = self._recent_row(name, max_age)
        return entity_to_policy(row) if row is not None else None

    def caller_keys(self, name: str, max_age: float = 0.0) -> list[CallerKey]:
        """The project's keys (no secrets) from a row this process read at most `max_age` seconds ago."""
        row = self._recent_row(name, max_age)
        if row is None:
            return []
        scope = (self.tables.projects, name)
        parsed = _parsed_keys.get(scope)
        if parsed is None or parsed[0] is not row:
            parsed = _parsed_keys[scope] = (row, [caller_key(record) for record in stored_keys(row)])
        return parsed[1]

    def list_projects(self) -> list[ProjectPolicy]:
        rows = self._query(self.tables.projects, "PartitionKey eq @p", {"p": PROJECT_PARTITION})
        return [entity_to_policy(row) for row in rows]

    def put_project(self, policy: ProjectPolicy, webhook_secret: str | None = None) -> None:
        """Create or replace the policy. Key hashes are kept; `webhook_secret` None keeps, "" clears."""
        check_project_name(policy.name, "name")

        def round_():
            previous = self._project_row(policy.name)
            entity = policy_to_entity(policy, PROJECT_PARTITION)
            for column in _SECRET_COLUMNS:
                if previous is not None and previous.get(column):
                    entity[column] = previous[column]
            if previous is None:  # a project made again under a deleted one's name trusts no cached key
                entity[KEYS_VERSION] = new_keys_version()
            if webhook_secret is not None:
                entity.pop("WebhookSecret", None)
                if webhook_secret:
                    entity["WebhookSecret"] = webhook_secret
            self._submit(self.tables.projects, [write_op(entity, previous)])

        self._retry(round_, f"put project {policy.name}")
        self._forget_row(policy.name)

    def delete_project(self, name: str) -> bool:
        """Delete the policy, its keys and their last-use rows. The ledger partition (history, open entries) stays."""
        row = self._project_row(name)
        if row is None:
            return False
        self._delete(self.tables.projects, PROJECT_PARTITION, name)
        self._forget_row(name)
        for key_name in self._last_used(name):  # a project made again under this name starts unused
            self._delete(self.tables.projects, KEY_USE_PARTITION, f"{name}|{key_name}")
        return True

    # ------------------------------------------------------------ caller keys
    def _change_keys(self, name: str, change, what: str):
        """Read the project's key list, let `change(keys)` return (new list, result), write it back
        under the row's ETag (retried on a race), then drop this process's cached verifications."""

        def round_():
            row = self._project_row(name)
            if row is None:
                raise NotFound(f"project {name!r} does not exist")
            keys, result = change(stored_keys(row))
            entity = dict(row)
            entity.pop("KeyHashes", None)
            entity["Keys"] = json.dumps(keys, separators=(",", ":"))
            entity[KEYS_VERSION] = new_keys_version()  # every instance drops what it cached for the old keys
            self._submit(self.tables.projects, [write_op(entity, row)])
            return result

        try:
            return self._retry(round_, f"{what} of {name}")
        finally:
            self._forget_row(name)

    def _new_key(self) -> tuple[str, str, str]:
        """(key id, key, stored hash) of a new key."""
        key_id = callerkeys.new_key_id()
        key = callerkeys.new_key(key_id)
        return key_id, key, callerkeys.hash_new_key(key, self._pepper())

    def rotate_key(
        self,
        name: str,
        now: datetime | None = None,
        key_name: str = DEFAULT_KEY,
        expires_at: datetime | None = None,
        limits: CallerLimits | None = None,
        scope: str = OWN_SCOPE,
    ) -> str:
        """Revoke every caller key of the project and add one (named "default" unless told); return it (shown once)."""
        check_key("name", key_name)
        key_id, key, hashed = self._new_key()
        record = key_record(key_name, hashed, now or utcnow(), expires_at, limits, key_id=key_id, scope=scope)
        return self._change_keys(name, lambda keys: ([record], key), "rotate keys")

    def add_key(
        self,
        name: str,
        key_name: str,
        now: datetime,
        expires_at: datetime | None = None,
        limits: CallerLimits | None = None,
        scope: str = OWN_SCOPE,
    ) -> str:
        """Add a named key; return it (the only time it is seen). DuplicateEntry if the name is taken."""
        check_key("name", key_name)
        key_id, key, hashed = self._new_key()
        record = key_record(key_name, hashed, now, expires_at, limits, key_id=key_id, scope=scope)

        def change(keys):
            if any(k["name"] == key_name for k in keys):
                raise DuplicateEntry(f"project {name!r} already has a key named {key_name!r}")
            if len(keys) >= MAX_KEYS:
                raise InvalidEntity("name", f"a project holds at most {MAX_KEYS} keys; revoke one first")
            if any(k.get("id") == key_id for k in keys):  # 1 in 2**64: write nothing, the retry draws again
                raise InvalidEntity("id", "key id already taken; try again")
            return [*keys, record], key

        return self._change_keys(name, change, "add key")

    def revoke_key(self, name: str, key_name: str) -> bool:
        def change(keys):
            kept = [k for k in keys if k["name"] != key_name]
            return kept, len(kept) != len(keys)

        return self._change_keys(name, change, "revoke key")

    def rotate_named_key(self, name: str, key_name: str, now: datetime) -> str:
        """A new secret (and id, in the new format) under the same name, scope, limits and expiry;
        the old secret stops at once."""
        key_id, key, hashed = self._new_key()

        def change(keys):
            if not any(k["name"] == key_name for k in keys):
                raise NotFound(f"project {name!r} has no key named {key_name!r}")
            fresh = {"id": key_id, "hash": hashed, "createdAt": now.astimezone(UTC).isoformat()}
            return [{**k, **fresh} if k["name"] == key_name else k for k in keys], key

        return self._change_keys(name, change, "rotate key")

    def list_keys(self, name: str) -> list[CallerKey]:
        row = self._project_row(name)
        if row is None:
            raise NotFound(f"project {name!r} does not exist")
        used = self._last_used(name)
        return [caller_key(k, used.get(k["name"])) for k in stored_keys(row)]

    def find_key(self, name: str, key: str, now: datetime) -> CallerKey | None:
        """The project's unexpired key that `key` is, or None; a success is remembered briefly (keycache).

        A key of the current format is looked up by its id and checked with one hash; a malformed key
        is refused before any read. A key of the shape issued before ids is checked against the
        project's scrypt hashes only (every one of them, so timing does not tell which matched)."""
        if not isinstance(name, str) or not isinstance(key, str):
            return None
        key_id = callerkeys.key_id_of(key)
        if key_id is None and not callerkeys.is_legacy_shape(key):
            return None
        scope = self._key_scope(name)
        generation = self.verified_keys.generation(scope)
        try:
            row = self._keys_row(name)
        except ValueError:
            return None
        if row is None:
            return None
        version = keys_version(row)
        found = self.verified_keys.hit(scope, key, version)
        if found is None:
            record = self._match(stored_keys(row), key, key_id)
            if record is None:
                return None
            found = caller_key(record)
            self.verified_keys.remember(scope, key, generation, found, version)
        return None if found.expired(now) else found

    def _match(self, keys: list[dict], key: str, key_id: str | None) -> dict | None:
        if key_id is not None:
            record = next((k for k in keys if k.get("id") == key_id), None)
            if record is None or callerkeys.is_slow(record.get("hash")):
                return None  # no row by that id: no hash at all
            return record if callerkeys.verify_key(key, record["hash"], self._pepper()) else None
        slow = [k for k in keys if callerkeys.is_slow(k.get("hash"))]
        results = [callerkeys.verify_key(key, k["hash"]) for k in slow]
        matched = [k for k, ok in zip(slow, results, strict=True) if ok]
        return matched[0] if matched else None

    def verify_key(self, name: str, key: str) -> bool:
        """True if `key` is one of the project's unexpired keys."""
        return self.find_key(name, key, utcnow()) is not None

    def touch_key(self, name: str, key_name: str, now: datetime) -> None:
        """Last use of a key: a blind upsert, at most once a minute per key and process."""
        scope = (self.tables.projects, name, key_name)
        with _touch_lock:
            last = _touched.get(scope)
            if last is not None and time.monotonic() - last < TOUCH_SECONDS:
                return
            _touched[scope] = time.monotonic()
        row = {"PartitionKey": KEY_USE_PARTITION, "RowKey": f"{name}|{key_name}", "LastUsedAt": now}
        try:
            self._upsert(self.tables.projects, row)
        except Exception:  # last use is a hint; never fail a request on it
            log.warning("could not record the last use of a key of %s", name)

    def _last_used(self, name: str) -> dict[str, datetime]:
        low, high = prefix_range(f"{name}|")
        rows = self._query(
            self.tables.projects,
            "PartitionKey eq @p and RowKey ge @lo and RowKey lt @hi",
            {"p": KEY_USE_PARTITION, "lo": low, "hi": high},
        )
        return {row["RowKey"][len(name) + 1 :]: get(row, "LastUsedAt") for row in rows}

    def webhook_secret(self, name: str) -> str | None:
        row = self._project_row(name)
        return get(row, "WebhookSecret") if row is not None else None


# ---------------------------------------------------------------- the stored key list
def key_record(
    name: str,
    hashed: str,
    now: datetime,
    expires_at: datetime | None = None,
    limits: CallerLimits | None = None,
    key_id: str | None = None,
    scope: str = OWN_SCOPE,
) -> dict:
    if scope not in KEY_SCOPES:
        raise InvalidEntity("scope", f"must be one of {', '.join(KEY_SCOPES)}")
    limits = limits or CallerLimits()
    record: dict[str, str | int] = {"name": name, "hash": hashed, "createdAt": now.astimezone(UTC).isoformat()}
    if key_id is not None:
        record["id"] = key_id
    if scope != OWN_SCOPE:
        record["scope"] = scope
    if expires_at is not None:
        record["expiresAt"] = expires_at.astimezone(UTC).isoformat()
    for field, value in (
        ("maxConcurrent", limits.max_concurrent),
        ("dailyBudget", limits.daily_budget),
        ("monthlyBudget", limits.monthly_budget),
    ):
        if value is not None:
            record[field] = int(value)
    return record


def stored_keys(row: dict) -> list[dict]:
    """The row's key records; a row from before named keys holds bare hashes, read as "default"."""
    keys = get(row, "Keys")
    if keys is not None:
        return json.loads(keys)
    legacy = json.loads(get(row, "KeyHashes", "[]"))
    return [{"name": DEFAULT_KEY if i == 0 else f"{DEFAULT_KEY}-{i + 1}", "hash": h} for i, h in enumerate(legacy)]


def key_limits(row: dict) -> dict[str, CallerLimits]:
    """The limits of the row's keys that have limits of their own, by key name."""
    keys = (caller_key(record) for record in stored_keys(row))
    return {key.name: key.limits for key in keys if not key.limits.empty}


def caller_key(record: dict, last_used: datetime | None = None) -> CallerKey:
    def when(name: str) -> datetime | None:
        return datetime.fromisoformat(record[name]) if record.get(name) else None

    limits = CallerLimits(record.get("maxConcurrent"), record.get("dailyBudget"), record.get("monthlyBudget"))
    scope = record.get("scope", OWN_SCOPE)
    return CallerKey(
        record["name"],
        when("createdAt"),
        when("expiresAt"),
        limits,
        last_used,
        scope=scope if scope in KEY_SCOPES else OWN_SCOPE,
        key_id=record.get("id"),
    )


def configured_pepper() -> bytes:
    """GOVERNOR_KEY_PEPPER of the process's settings as bytes; b"" when unset (plain SHA-256)."""
    pepper = load().get("GOVERNOR_KEY_PEPPER")
    return pepper.encode("utf-8") if pepper else b""
