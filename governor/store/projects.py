"""Projects table: one row per project (PartitionKey "project", RowKey = name).

The row holds the policy, the named caller keys (`Keys`: name, salted hash, creation, expiry,
limits) and the webhook secret. Last use of a key lives in its own row (`keyuse` partition), so
the gate's touch never races an admin's write of the project row. Reads for policies
`select` only policy columns, so secrets leave the table only for the calls that need them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime

from governor.model import CallerKey, CallerLimits, ProjectPolicy, utcnow
from governor.policy.callers import DEFAULT_KEY, MAX_KEYS
from governor.store import callerkeys
from governor.store.base import TablesBase, write_op
from governor.store.entities import entity_to_policy, get, policy_to_entity
from governor.store.errors import DuplicateEntry, InvalidEntity, NotFound
from governor.store.keycache import PROCESS_CACHE, VerifiedKeys
from governor.store.keys import check_key, check_project_name, prefix_range

log = logging.getLogger(__name__)

PROJECT_PARTITION = "project"
KEY_USE_PARTITION = "keyuse"  # RowKey "<project>|<key name>": LastUsedAt, written apart from the project row
_SECRET_COLUMNS = ("Keys", "KeyHashes", "WebhookSecret")
TOUCH_SECONDS = 60.0
_touched: dict[tuple[str, str, str], float] = {}
_touch_lock = threading.Lock()


class ProjectsRepo(TablesBase):
    # Shared by every store of the process, so a rotation through one is seen by all.
    verified_keys: VerifiedKeys = PROCESS_CACHE

    def _key_scope(self, name: str) -> tuple[str, str]:
        return (self.tables.projects, name)

    def _project_row(self, name: str) -> dict | None:
        return self._point(self.tables.projects, PROJECT_PARTITION, check_project_name(name))

    def get_project(self, name: str) -> ProjectPolicy | None:
        row = self._project_row(name)
        return entity_to_policy(row) if row is not None else None

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
            if webhook_secret is not None:
                entity.pop("WebhookSecret", None)
                if webhook_secret:
                    entity["WebhookSecret"] = webhook_secret
            self._submit(self.tables.projects, [write_op(entity, previous)])

        self._retry(round_, f"put project {policy.name}")
        self.verified_keys.forget(self._key_scope(policy.name))

    def delete_project(self, name: str) -> bool:
        """Delete the policy, its keys and their last-use rows. The ledger partition (history, open entries) stays."""
        row = self._project_row(name)
        if row is None:
            return False
        table = self._table(self.tables.projects)
        table.delete_entity(PROJECT_PARTITION, name)
        self.verified_keys.forget(self._key_scope(name))
        for key_name in self._last_used(name):  # a project made again under this name starts unused
            table.delete_entity(KEY_USE_PARTITION, f"{name}|{key_name}")
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
            self._submit(self.tables.projects, [write_op(entity, row)])
            return result

        try:
            return self._retry(round_, f"{what} of {name}")
        finally:
            self.verified_keys.forget(self._key_scope(name))

    def rotate_key(self, name: str, now: datetime | None = None) -> str:
        """Revoke every caller key of the project and add one named "default"; return it (shown once)."""
        key = callerkeys.new_key()
        record = key_record(DEFAULT_KEY, callerkeys.hash_key(key), now or utcnow())
        return self._change_keys(name, lambda keys: ([record], key), "rotate keys")

    def add_key(
        self,
        name: str,
        key_name: str,
        now: datetime,
        expires_at: datetime | None = None,
        limits: CallerLimits | None = None,
    ) -> str:
        """Add a named key; return it (the only time it is seen). DuplicateEntry if the name is taken."""
        check_key("name", key_name)
        key = callerkeys.new_key()
        record = key_record(key_name, callerkeys.hash_key(key), now, expires_at, limits)

        def change(keys):
            if any(k["name"] == key_name for k in keys):
                raise DuplicateEntry(f"project {name!r} already has a key named {key_name!r}")
            if len(keys) >= MAX_KEYS:
                raise InvalidEntity("name", f"a project holds at most {MAX_KEYS} keys; revoke one first")
            return [*keys, record], key

        return self._change_keys(name, change, "add key")

    def revoke_key(self, name: str, key_name: str) -> bool:
        def change(keys):
            kept = [k for k in keys if k["name"] != key_name]
            return kept, len(kept) != len(keys)

        return self._change_keys(name, change, "revoke key")

    def rotate_named_key(self, name: str, key_name: str, now: datetime) -> str:
        """A new secret under the same name, limits and expiry; the old secret stops at once."""
        key = callerkeys.new_key()

        def change(keys):
            if not any(k["name"] == key_name for k in keys):
                raise NotFound(f"project {name!r} has no key named {key_name!r}")
            return [
                {**k, "hash": callerkeys.hash_key(key), "createdAt": now.isoformat()} if k["name"] == key_name else k
                for k in keys
            ], key

        return self._change_keys(name, change, "rotate key")

    def list_keys(self, name: str) -> list[CallerKey]:
        row = self._project_row(name)
        if row is None:
            raise NotFound(f"project {name!r} does not exist")
        used = self._last_used(name)
        return [caller_key(k, used.get(k["name"])) for k in stored_keys(row)]

    def find_key(self, name: str, key: str, now: datetime) -> CallerKey | None:
        """The project's unexpired key that `key` is, or None; a success is remembered briefly (keycache)."""
        if not isinstance(name, str) or not isinstance(key, str) or not key:
            return None
        scope = self._key_scope(name)
        found = self.verified_keys.hit(scope, key)
        if found is None:
            generation = self.verified_keys.generation(scope)
            try:
                row = self._project_row(name)
            except ValueError:
                return None
            if row is None:
                return None
            # Check every hash (no early exit) so timing does not tell which one matched.
            keys = stored_keys(row)
            results = [callerkeys.verify_key(key, k["hash"]) for k in keys]
            matched = [k for k, ok in zip(keys, results, strict=True) if ok]
            if not matched:
                return None
            found = caller_key(matched[0])
            self.verified_keys.remember(scope, key, generation, found)
        return None if found.expired(now) else found

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
            self._table(self.tables.projects).upsert_entity(row)
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
    name: str, hashed: str, now: datetime, expires_at: datetime | None = None, limits: CallerLimits | None = None
) -> dict:
    limits = limits or CallerLimits()
    record = {"name": name, "hash": hashed, "createdAt": now.astimezone(UTC).isoformat()}
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
    return CallerKey(record["name"], when("createdAt"), when("expiresAt"), limits, last_used)
