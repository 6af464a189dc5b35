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
from governor.store.keys import check_project_name

PROJECT_PARTITION = "project"
_SECRET_COLUMNS = ("KeyHashes", "WebhookSecret")


class ProjectsRepo(TablesBase):
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

    def delete_project(self, name: str) -> bool:
        """Delete the policy and its keys. The ledger partition (history, open entries) stays."""
        row = self._project_row(name)
        if row is None:
            return False
        self._table(self.tables.projects).delete_entity(PROJECT_PARTITION, name)
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
        return key

    def verify_key(self, name: str, key: str) -> bool:
        try:
            row = self._project_row(name)
        except ValueError:
            return False
        if row is None:
            return False
        hashes = json.loads(get(row, "KeyHashes", "[]"))
        # Check every hash (no early exit) so timing does not tell which one matched.
        results = [callerkeys.verify_key(key, stored) for stored in hashes]
        return any(results)

    def webhook_secret(self, name: str) -> str | None:
        row = self._project_row(name)
        return get(row, "WebhookSecret") if row is not None else None

    def has_key(self, name: str) -> bool:
        row = self._project_row(name)
        return row is not None and bool(json.loads(get(row, "KeyHashes", "[]")))
