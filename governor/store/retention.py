"""Retention: old closed ledger rows move to the History table; old audit rows are deleted.

History: PartitionKey `<project>|<YYYY-MM>` (the month the session was requested in), RowKey
`closed|<session>`: the ledger row as it was, plus `Project`. A move is copy, verify, delete:

1. copy: upsert the rows into their history partitions (one transaction per partition chunk);
2. verify: read them back and compare every property with the ledger row;
3. delete: remove the ledger rows in one transaction per project chunk, each under the ETag it
   was read with, so a row that changed meanwhile (a late saving) stays and moves next run.

A run killed anywhere leaves every row in the ledger, in both tables, or in history only; the
next run's upsert and delete finish the move, and readers that join both tables drop the
duplicate. Each run moves and deletes at most `limit` rows. See docs/storage.md.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from azure.data.tables import UpdateMode

from governor.core.model import LedgerEntry, Period
from governor.store.audit import AUDIT_PARTITION, audit_row_key
from governor.store.base import MAX_BATCH, QUERY, TablesBase, delete_op
from governor.store.concurrency import is_conflict
from governor.store.entities import entity_to_entry
from governor.store.keys import CLOSED_PREFIX, check_key, prefix_range

PROJECT_COLUMN = "Project"


def history_partition(project: str, month: str) -> str:
    return check_key("history partition", f"{project}|{month}")


def _month_of(row: dict) -> str:
    return Period.MONTH.key(row["RequestedAt"])


def _properties(row: dict) -> dict:
    """The row's own properties, without keys and service metadata."""
    return {k: v for k, v in row.items() if k not in ("PartitionKey", "RowKey", "Timestamp")}


def _same(a, b) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a.astimezone(UTC) == b.astimezone(UTC)
    return a == b


class RetentionRepo(TablesBase):
    # ------------------------------------------------------------ history
    def move_closed(self, cutoff: datetime, limit: int) -> dict:
        """Move up to `limit` closed ledger rows requested before `cutoff` into history."""
        lo, hi = prefix_range(CLOSED_PREFIX)
        table = self._table(self.tables.ledger)
        rows = []
        with self._traced(self.tables.ledger, QUERY):
            pages = table.query_entities(
                "RowKey ge @lo and RowKey lt @hi and RequestedAt lt @cutoff",
                parameters={"lo": lo, "hi": hi, "cutoff": cutoff.astimezone(UTC)},
                results_per_page=min(max(limit, 1), 1000),
            )
            for row in pages:
                rows.append(row)
                if len(rows) >= limit:
                    break
        by_project: dict[str, list[dict]] = defaultdict(list)
        for row in rows:
            by_project[row["PartitionKey"]].append(row)
        moved = changed = 0
        for project, project_rows in by_project.items():
            for start in range(0, len(project_rows), MAX_BATCH):
                chunk = project_rows[start : start + MAX_BATCH]
                self._copy(project, chunk)
                self._verify(project, chunk)
                try:
                    self._submit(self.tables.ledger, [delete_op(row) for row in chunk])
                    moved += len(chunk)
                except Exception as exc:
                    if not is_conflict(exc):
                        raise
                    changed += len(chunk)  # a row changed since read: moved again by the next run
        return {"moved": moved, "changed": changed, "more": len(rows) >= limit}

    def _copy(self, project: str, chunk: list[dict]) -> None:
        by_month: dict[str, list[dict]] = defaultdict(list)
        for row in chunk:
            by_month[_month_of(row)].append(row)
        for month, month_rows in by_month.items():
            partition = history_partition(project, month)
            ops = [
                (
                    "upsert",
                    {
                        **_properties(row),
                        "PartitionKey": partition,
                        "RowKey": row["RowKey"],
                        PROJECT_COLUMN: project,
                    },
                    {"mode": UpdateMode.REPLACE},
                )
                for row in month_rows
            ]
            self._submit(self.tables.history, ops)

    def _verify(self, project: str, chunk: list[dict]) -> None:
        """Read each month's history partition back once and compare every copied row."""
        copies: dict[tuple[str, str], dict] = {}
        for month in {_month_of(row) for row in chunk}:
            partition = history_partition(project, month)
            for found in self._query(self.tables.history, "PartitionKey eq @pk", {"pk": partition}):
                copies[(month, found["RowKey"])] = found
        for row in chunk:
            copy = copies.get((_month_of(row), row["RowKey"]))
            if copy is None:
                raise RuntimeError(f"history copy of {project}/{row['RowKey']} is missing; nothing deleted")
            original = _properties(row)
            mismatched = [k for k, v in original.items() if not _same(copy.get(k), v)]
            if mismatched:
                raise RuntimeError(
                    f"history copy of {project}/{row['RowKey']} differs in {mismatched}; nothing deleted"
                )

    def history_entries(self, project: str, month: str) -> list[LedgerEntry]:
        """Closed entries of `project` requested in `month` (YYYY-MM) that retention moved to history."""
        check_key("project", project)
        rows = self._query(self.tables.history, "PartitionKey eq @pk", {"pk": history_partition(project, month)})
        return [entity_to_entry({**row, "PartitionKey": project}) for row in rows]

    # ------------------------------------------------------------ audit
    def purge_audit(self, cutoff: datetime, limit: int) -> dict:
        """Delete up to `limit` audit rows written before `cutoff` (the oldest sort last)."""
        lo = audit_row_key(cutoff, 0)[:19]  # inverted ticks of the cutoff: older rows sort after it
        keys = []
        table = self._table(self.tables.audit)
        with self._traced(self.tables.audit, QUERY):
            pages = table.query_entities(
                "PartitionKey eq @pk and RowKey gt @lo",
                parameters={"pk": AUDIT_PARTITION, "lo": lo + "~"},
                select=["PartitionKey", "RowKey"],
                results_per_page=min(max(limit, 1), 1000),
            )
            for row in pages:
                keys.append({"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"]})
                if len(keys) >= limit:
                    break
        for start in range(0, len(keys), MAX_BATCH):
            self._submit(self.tables.audit, [("delete", key) for key in keys[start : start + MAX_BATCH]])
        return {"deleted": len(keys), "more": len(keys) >= limit}
