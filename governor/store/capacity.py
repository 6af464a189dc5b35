"""Capacity memory: where ARR last ran out of servers, in each project's ledger partition.

Two kinds of rows beside the money (no money operation reads or writes them, so they never contend
with `!state`):

- `capacity|<account>|<size>`: `FailedAt`, the latest capacity failure of that size in that account,
  which the gate's placement reads (one range query) so every instance avoids the account for the
  window (GOVERNOR_CAPACITY_WINDOW_MINUTES);
- `failed|<session id>`: `Account`, `Size`, `FailedAt` of one attempt that failed for capacity: it
  makes the attempt's recording happen once (a poll and the sweep may both see it), tells a retry
  with the same Idempotency-Key to start the next attempt, and counts failures per day.

Both are written in one entity-group transaction that inserts the `failed|` row, so a failure seen
twice is recorded (and audited) once.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from governor.core.model import CapacityFailure, VmSize
from governor.store.base import MAX_BATCH, QUERY, TablesBase, create_op
from governor.store.concurrency import is_conflict
from governor.store.entities import get
from governor.store.keys import check_key, check_project_name, prefix_range

CAPACITY_PREFIX = "capacity|"
FAILED_PREFIX = "failed|"


def capacity_key(account: str, size: VmSize) -> str:
    return check_key("account", f"{CAPACITY_PREFIX}{account}|{size.value}")


def failed_key(session_id: str) -> str:
    return check_key("sessionId", FAILED_PREFIX + check_key("sessionId", session_id))


class CapacityRepo(TablesBase):
    def capacity_failures(self, project: str) -> dict[tuple[str, VmSize], datetime]:
        """The latest capacity failure per (account, size) of the project."""
        low, high = prefix_range(CAPACITY_PREFIX)
        rows = self._query(
            self.tables.ledger,
            "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
            {"pk": check_project_name(project), "lo": low, "hi": high},
        )
        return {(get(row, "Account"), VmSize.parse(get(row, "Size"))): get(row, "FailedAt") for row in rows}

    def record_capacity_failure(self, failure: CapacityFailure) -> bool:
        """Remember the failure (the attempt's row, and its account and size's latest time); False
        when this attempt was recorded before (nothing is written)."""
        at = failure.at.astimezone(UTC)
        common = {"PartitionKey": check_project_name(failure.project), "Account": failure.account}
        attempt = {**common, "RowKey": failed_key(failure.session_id), "Size": failure.size.value, "FailedAt": at}
        latest = {**common, "RowKey": capacity_key(failure.account, failure.size), "Size": failure.size.value}
        try:
            self._submit(self.tables.ledger, [create_op(attempt), ("upsert", {**latest, "FailedAt": at})])
        except Exception as exc:
            if is_conflict(exc):
                return False
            raise
        return True

    def capacity_failure(self, project: str, session_id: str) -> CapacityFailure | None:
        """The recorded capacity failure of one attempt, or None."""
        row = self._point(self.tables.ledger, check_project_name(project), failed_key(session_id))
        return None if row is None else _failure(row)

    def capacity_failures_between(
        self, start: datetime, end: datetime, project: str | None = None
    ) -> list[CapacityFailure]:
        """Attempts that failed for capacity at `start` <= time < `end`, of one project or of all."""
        low, high = prefix_range(FAILED_PREFIX)
        where = "RowKey ge @lo and RowKey lt @hi and FailedAt ge @start and FailedAt lt @end"
        params = {"lo": low, "hi": high, "start": start.astimezone(UTC), "end": end.astimezone(UTC)}
        if project is not None:
            where, params["pk"] = "PartitionKey eq @pk and " + where, check_project_name(project)
        return [_failure(row) for row in self._query(self.tables.ledger, where, params)]

    def purge_capacity_failures(self, cutoff: datetime, limit: int) -> dict:
        """Delete up to `limit` rows of attempts that failed for capacity before `cutoff` (a row is
        written once and never changed, so nothing can race the delete). The latest failure per
        account and size stays: one row per place, and the window reads it."""
        low, high = prefix_range(FAILED_PREFIX)
        by_project: defaultdict[str, list[dict]] = defaultdict(list)
        found = 0
        table = self._table(self.tables.ledger)
        with self._traced(self.tables.ledger, QUERY):
            pages = table.query_entities(
                "RowKey ge @lo and RowKey lt @hi and FailedAt lt @cutoff",
                parameters={"lo": low, "hi": high, "cutoff": cutoff.astimezone(UTC)},
                select=["PartitionKey", "RowKey"],
                results_per_page=min(max(limit, 1), 1000),
            )
            for row in pages:
                if found >= limit:
                    break
                by_project[row["PartitionKey"]].append({"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"]})
                found += 1
        for keys in by_project.values():
            for start in range(0, len(keys), MAX_BATCH):
                self._submit(self.tables.ledger, [("delete", key) for key in keys[start : start + MAX_BATCH]])
        return {"deleted": found, "more": found >= limit}


def _failure(row: dict) -> CapacityFailure:
    return CapacityFailure(
        project=row["PartitionKey"],
        session_id=row["RowKey"][len(FAILED_PREFIX) :],
        account=get(row, "Account"),
        size=VmSize.parse(get(row, "Size")),
        at=get(row, "FailedAt"),
    )
