"""Projects table: one row per project (PartitionKey "project", RowKey = name).

The row holds the policy, the caller-key hashes and the webhook secret. Reads for policies
`select` only policy columns, so secrets leave the table only for the calls that need them.
"""

from __future__ import annotations

import json

from governor.model import ProjectPolicy
from governor.store import callerkeys
from governor.store.base import TablesBase, write_op
from governor.store.entities import entity_to_policy, get, policy_to_entity
from governor.store.errors import NotFound
from governor.store.keycache import PROCESS_CACHE, VerifiedKeys
from governor.store.keys import check_project_name

PROJECT_PARTITION = "project"
_SECRET_COLUMNS = ("KeyHashes", "WebhookSecret")


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
        """Delete the policy and its keys. The ledger partition (history, open entries) stays."""
        row = self._project_row(name)
        if row is None:
            return False
        self._table(self.tables.projects).delete_entity(PROJECT_PARTITION, name)
        self.verified_keys.forget(self._key_scope(name))
        return True

    def rotate_key(self, name: str) -> str:
        """Replace every caller key of the project with a new one; return it (the only time it is seen)."""
        key = callerkeys.new_key()
        hashed = callerkeys.hash_key(key)

        def round_():
            row = self._project_row(name)
            if row is None:
                raise NotFound(f"project {name!r} does not exist")
            entity = dict(row)
            entity["KeyHashes"] = json.dumps([hashed])
            self._submit(self.tables.projects, [write_op(entity, row)])

        self._retry(round_, f"rotate key of {name}")
        self.verified_keys.forget(self._key_scope(name))
        return key

    def verify_key(self, name: str, key: str) -> bool:
        """True if `key` is one of the project's keys; a success is remembered briefly (keycache)."""
        if not isinstance(name, str) or not isinstance(key, str) or not key:
            return False
        scope = self._key_scope(name)
        if self.verified_keys.hit(scope, key):
            return True
        generation = self.verified_keys.generation(scope)
        try:
            row = self._project_row(name)
        except ValueError:
            return False
        if row is None:
            return False
        hashes = json.loads(get(row, "KeyHashes", "[]"))
        # Check every hash (no early exit) so timing does not tell which one matched.
        results = [callerkeys.verify_key(key, stored) for stored in hashes]
        if any(results):
            self.verified_keys.remember(scope, key, generation)
            return True
        return False

    def webhook_secret(self, name: str) -> str | None:
        row = self._project_row(name)
        return get(row, "WebhookSecret") if row is not None else None
