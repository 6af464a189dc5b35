"""Ledger reads: entries, usage and the sweep's snapshot (one query per table)."""

from __future__ import annotations

from datetime import datetime

from governor.core.model import LedgerEntry, LedgerSnapshot, Period, Usage
from governor.store.entities import POLICY_COLUMNS, entity_to_entry, entity_to_policy, get
from governor.store.escrow import SLICE_PREFIX, escrow_of, is_slice
from governor.store.keys import (
    CLOSED_PREFIX,
    MOVED_PREFIX,
    OPEN_PREFIX,
    STATE_ROW,
    check_key,
    closed_key,
    moved_key,
    open_key,
    prefix_range,
    usage_key,
)
from governor.store.ledger import MAX_FILTER_KEYS, PERIODS, LedgerRepo, budget_of, caller_spent_of
from governor.store.projects import PROJECT_PARTITION, key_limits


class ReadsRepo(LedgerRepo):
    def get_entry(self, project: str, session_id: str) -> LedgerEntry | None:
        """The open or closed row of `session_id`; a v1 reservation id leads to the session its row
        moved to on activation."""
        check_key("project", project)
        params = {"pk": project, "o": open_key(session_id), "c": closed_key(session_id), "m": moved_key(session_id)}
        rows = self._query(
            self.tables.ledger, "PartitionKey eq @pk and (RowKey eq @o or RowKey eq @c or RowKey eq @m)", params
        )
        entries = [row for row in rows if not row["RowKey"].startswith(MOVED_PREFIX)]
        if not entries:
            moved = get(rows[0], "SessionId") if rows else None
            return self.get_entry(project, moved) if moved and moved != session_id else None
        entries.sort(key=lambda row: not row["RowKey"].startswith(OPEN_PREFIX))
        return entity_to_entry(entries[0])

    def list_entries(self, project: str, include_closed: bool = False) -> list[LedgerEntry]:
        check_key("project", project)
        params = {"pk": project}
        params["ol"], params["oh"] = prefix_range(OPEN_PREFIX)
        clause = "(RowKey ge @ol and RowKey lt @oh)"
        if include_closed:
            params["cl"], params["ch"] = prefix_range(CLOSED_PREFIX)
            clause += " or (RowKey ge @cl and RowKey lt @ch)"
        rows = self._query(self.tables.ledger, f"PartitionKey eq @pk and ({clause})", params)
        return [entity_to_entry(row) for row in rows]

    def caller_spent(self, project: str, period: Period, key: str) -> dict[str, int]:
        """Money charged in that period, by caller name (sessions from before named keys are absent)."""
        check_key("project", project)
        row = self._point(self.tables.ledger, project, usage_key(period.value, key))
        return caller_spent_of(row)

    def find_closed(self, session_ids) -> dict[str, LedgerEntry]:
        """Closed rows of these ids in any project: one cross-partition query per MAX_FILTER_KEYS ids
        (Table Storage's limit on comparisons in a filter). The sweep asks only about sessions no
        open row owns, which are few."""
        ids = sorted({check_key("sessionId", sid) for sid in session_ids})
        found: dict[str, LedgerEntry] = {}
        for start in range(0, len(ids), MAX_FILTER_KEYS):
            chunk = ids[start : start + MAX_FILTER_KEYS]
            params = {f"r{i}": closed_key(sid) for i, sid in enumerate(chunk)}
            clause = " or ".join(f"RowKey eq @r{i}" for i in range(len(chunk)))
            for row in self._query(self.tables.ledger, clause, params):
                entry = entity_to_entry(row)
                found[entry.session_id] = entry
        return found

    def usage(self, project: str, period: Period, key: str) -> Usage:
        """Spent in that period; reserved is the project's current hold if `key` is the latest
        period the ledger has seen (holds are for minutes still to come), else 0."""
        check_key("project", project)
        params = {"pk": project, "st": STATE_ROW, "u": usage_key(period.value, key)}
        params["slo"], params["shi"] = prefix_range(SLICE_PREFIX)
        rows = {
            row["RowKey"]: row
            for row in self._query(
                self.tables.ledger,
                "PartitionKey eq @pk and (RowKey eq @st or RowKey eq @u or (RowKey ge @slo and RowKey lt @shi))",
                params,
            )
        }
        state, row = rows.get(STATE_ROW), rows.get(params["u"])
        latest = get(state, "DayKey" if period is Period.DAY else "MonthKey", "") if state else ""
        escrow = escrow_of(row for k, row in rows.items() if is_slice(k))[0]
        reserved = get(state, "Held", 0) - escrow if state is not None and key >= latest else 0
        policy = self.get_project(project)
        spent = get(row, "Spent", 0) if row is not None else 0
        saved = get(row, "Saved", 0) if row is not None else 0
        return Usage(project, period, key, budget_of(policy, period), spent=spent, reserved=reserved, saved=saved)

    def current_usage(self, project: str, now: datetime, policy=None) -> dict[Period, Usage]:
        """`usage` of both periods of `now` in one query (the state row and the two usage rows);
        `policy`: the one the caller just read (saves a read)."""
        return self.entry_with_usage(project, None, now, policy)[1]

    def entry_with_usage(
        self, project: str, session_id: str | None, now: datetime, policy=None
    ) -> tuple[LedgerEntry | None, dict[Period, Usage]]:
        """`get_entry` and `current_usage` in one query (what a polled session read needs)."""
        keys = {open_key(session_id), closed_key(session_id)} if session_id is not None else set()
        part, rows = self._read_rows(check_key("project", project), now, keys, totals=True)
        policy = policy if policy is not None else self.get_project(project)
        usage = {}
        for period in PERIODS:
            key = period.key(now)
            latest = get(part.state, "DayKey" if period is Period.DAY else "MonthKey", "") if part.state else ""
            reserved = part.held - part.escrow[0] if part.state is not None and key >= latest else 0
            usage[period] = Usage(project, period, key, budget_of(policy, period), part.spent(period), reserved)
        found = rows.get(open_key(session_id)) or rows.get(closed_key(session_id)) if session_id else None
        return (entity_to_entry(found) if found is not None else None), usage

    def usage_history(self, project: str, period: Period, first_key: str, last_key: str) -> list[Usage]:
        """Spent per period for keys first_key..last_key (inclusive), one range query; missing periods
        are absent and `reserved` is 0 (holds belong to the present, not to history)."""
        check_key("project", project)
        params = {"pk": project, "lo": usage_key(period.value, first_key), "hi": usage_key(period.value, last_key)}
        rows = self._query(
            self.tables.ledger,
            "PartitionKey eq @pk and RowKey ge @lo and RowKey le @hi",
            params,
            ["Key", "Spent", "Saved"],
        )
        budget = budget_of(self.get_project(project), period)
        return [
            Usage(project, period, get(row, "Key"), budget, spent=get(row, "Spent", 0), saved=get(row, "Saved", 0))
            for row in rows
        ]

    def snapshot(self, now: datetime) -> LedgerSnapshot:
        rows = self._query(
            self.tables.projects, "PartitionKey eq @p", {"p": PROJECT_PARTITION}, [*POLICY_COLUMNS, "Keys"]
        )
        policies = {policy.name: policy for policy in map(entity_to_policy, rows)}
        parts = self._read_all(now)
        entries = [entity_to_entry(row) for part in parts.values() for row in part.open.values()]
        usage = {
            (name, period): Usage(
                name,
                period,
                period.key(now),
                budget_of(policy, period),
                spent=parts[name].spent(period) if name in parts else 0,
                reserved=parts[name].held - parts[name].escrow[0] if name in parts else 0,
            )
            for name, policy in policies.items()
            for period in PERIODS
        }
        return LedgerSnapshot(
            projects=policies,
            open_entries=entries,
            usage=usage,
            read_at=now,
            caller_spent={
                (name, period): part.caller_spent(period) for name, part in parts.items() for period in PERIODS
            },
            key_limits={row["RowKey"]: key_limits(row) for row in rows},
        )
