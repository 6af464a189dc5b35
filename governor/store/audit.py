"""Audit and Health tables.

Audit: PartitionKey "audit", RowKey = inverted ticks of `at` + a sequence + random suffix,
so the newest rows sort first and `recent_audit(limit)` is one query reading one page.
Health: PartitionKey "sweep"/RowKey "last" holds the last sweep report; PartitionKey "lock"
rows are leases (owner, expiry) taken and released under their ETag.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from azure.data.tables import UpdateMode

from governor.core.model import AuditRecord, utcnow
from governor.store.base import MAX_BATCH, QUERY, TablesBase, delete_op, write_op
from governor.store.concurrency import is_conflict
from governor.store.entities import audit_to_entity, check_entity, entity_to_audit, get, get_json, put_json
from governor.store.keys import check_key

AUDIT_PARTITION = "audit"
SWEEP_PARTITION, SWEEP_ROW = "sweep", "last"
LOCK_PARTITION = "lock"
_EPOCH = datetime(1, 1, 1, tzinfo=UTC)
_MAX_TICKS = 10**19 - 1


def audit_row_key(at: datetime, index: int) -> str:
    ticks = (at.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1) * 10
    return f"{_MAX_TICKS - ticks:019d}-{999_999 - index % 1_000_000:06d}-{secrets.token_hex(4)}"


def rows_since(at: datetime) -> str:
    """The upper bound (exclusive) of the keys of rows written at or after `at` (newest sort first)."""
    ticks = (at.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1) * 10
    return f"{_MAX_TICKS - ticks + 1:019d}"


class AuditRepo(TablesBase):
    def append_audit(self, records: Sequence[AuditRecord]) -> list[str]:
        """Write new rows; returns their keys, in order."""
        keys = [audit_row_key(record.at, index) for index, record in enumerate(records)]
        entities = [audit_to_entity(record, AUDIT_PARTITION, key) for record, key in zip(records, keys, strict=True)]
        for start in range(0, len(entities), MAX_BATCH):
            self._submit(self.tables.audit, [("create", e) for e in entities[start : start + MAX_BATCH]])
        return keys

    def complete_audit(self, records: Sequence[AuditRecord]) -> None:
        """Rewrite rows written earlier (each record carries its `key`) with their final outcome."""
        entities = [audit_to_entity(record, AUDIT_PARTITION, check_key("audit key", record.key)) for record in records]
        for start in range(0, len(entities), MAX_BATCH):
            batch = entities[start : start + MAX_BATCH]
            self._submit(self.tables.audit, [("upsert", e, {"mode": UpdateMode.REPLACE}) for e in batch])

    def unfinished_audit(self, since: datetime, source: str = "sweep") -> list[AuditRecord]:
        """Rows of `source` written at or after `since` whose outcome is still "unknown": a run that
        died between asking ARR and recording the answer. One range query over the newest rows."""
        params = {"pk": AUDIT_PARTITION, "hi": rows_since(since), "o": "unknown", "s": source}
        rows = self._query(
            self.tables.audit, "PartitionKey eq @pk and RowKey lt @hi and Outcome eq @o and Source eq @s", params
        )
        return [entity_to_audit(row) for row in rows]

    def recent_audit(self, limit: int = 50, project: str | None = None) -> list[AuditRecord]:
        if limit <= 0:
            return []
        limit = min(limit, 1000)
        filter_, params = "PartitionKey eq @pk", {"pk": AUDIT_PARTITION}
        if project is not None:
            filter_ += " and Project eq @project"
            params["project"] = check_key("project", project)
        records = []
        table = self._table(self.tables.audit)
        with self._traced(self.tables.audit, QUERY):
            pages = table.query_entities(filter_, parameters=params, results_per_page=limit)
            for row in pages:
                records.append(entity_to_audit(row))
                if len(records) >= limit:
                    break
        return records

    # ------------------------------------------------------------ health
    def record_sweep(self, report: dict) -> None:
        entity = {"PartitionKey": SWEEP_PARTITION, "RowKey": SWEEP_ROW, "At": utcnow()}
        put_json(entity, "Report", report)

        self._submit_single_upsert(entity, UpdateMode.REPLACE)

    def _submit_single_upsert(self, entity: dict, mode) -> None:
        check_entity(entity, "sweep report")
        self._upsert(self.tables.health, entity, mode)

    def last_sweep(self) -> dict | None:
        row = self._point(self.tables.health, SWEEP_PARTITION, SWEEP_ROW)
        return get_json(row, "Report") if row is not None else None

    def try_lock(self, name: str, owner: str, ttl: timedelta, now: datetime) -> bool:
        """Take or renew the lease `name` for `owner` until now+ttl. False if someone else holds it."""
        check_key("lock", name)
        entity = {
            "PartitionKey": LOCK_PARTITION,
            "RowKey": name,
            "Owner": str(owner),
            "Expires": (now + ttl).astimezone(UTC),
        }
        row = self._point(self.tables.health, LOCK_PARTITION, name)
        if row is not None and get(row, "Owner") != owner and get(row, "Expires") > now:
            return False
        try:
            self._submit(self.tables.health, [write_op(entity, row)])
        except Exception as exc:
            if is_conflict(exc):
                return False
            raise
        return True

    def release_lock(self, name: str, owner: str) -> None:
        check_key("lock", name)
        row = self._point(self.tables.health, LOCK_PARTITION, name)
        if row is None or get(row, "Owner") != owner:
            return
        try:
            self._submit(self.tables.health, [delete_op(row)])
        except Exception as exc:
            if not is_conflict(exc):
                raise
