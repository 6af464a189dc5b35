"""Small builders for store tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from governor.core.model import MICROS, LedgerEntry, LedgerState, ProjectPolicy, VmSize
from governor.service.ports import Refusal

NOW = datetime(2030, 3, 14, 12, 0, tzinfo=UTC)
RATE = 6 * MICROS  # 6 cost units per hour: 0.1 per minute


def policy(name: str = "demo", **overrides) -> ProjectPolicy:
    values = dict(
        name=name,
        allowed_sizes=frozenset({VmSize.STANDARD, VmSize.PREMIUM}),
        rates={VmSize.STANDARD: RATE, VmSize.PREMIUM: 4 * RATE},
        daily_budget=100 * MICROS,
        monthly_budget=1000 * MICROS,
        max_concurrent=50,
    )
    values.update(overrides)
    return ProjectPolicy(**values)


def entry(session_id: str, project: str = "demo", lease_minutes: int = 60, at=NOW) -> LedgerEntry:
    return LedgerEntry(
        project=project,
        session_id=session_id,
        account="default",
        size=VmSize.STANDARD,
        state=LedgerState.PENDING,
        requested_at=at,
        lease=timedelta(minutes=lease_minutes),
        rate=RATE,
    )


def admit(cost: int):
    """A decide() like the gate's: concurrency, then the tightest remaining budget."""

    def decide(snapshot):
        if snapshot.active_sessions >= snapshot.policy.max_concurrent:
            raise Refusal("concurrency-limit", "too many sessions")
        for usage in snapshot.usage.values():
            if usage.remaining is not None and usage.remaining < cost:
                raise Refusal("budget-exhausted", "not enough budget")
        return cost

    return decide


def reserve(store, session_id: str, project: str = "demo", lease_minutes: int = 60, at=NOW):
    from governor.core.model import cost_of

    cost = cost_of(RATE, lease_minutes)
    return store.reserve(project, entry(session_id, project, lease_minutes, at), admit(cost), at)


def seed_active(store, project: str, session_ids: list[str], lease_minutes: int = 60) -> None:
    """Write many open entries fast (batched), with a state row that holds their reservations.
    For tests that need volume; admission itself is tested through reserve()."""
    from dataclasses import replace

    from governor.core.model import cost_of
    from governor.store.entities import entry_to_entity, i64
    from governor.store.keys import STATE_ROW, open_key

    reserved = cost_of(RATE, lease_minutes)
    rows = [
        entry_to_entity(
            replace(entry(sid, project, lease_minutes), state=LedgerState.ACTIVE, reserved=reserved), open_key(sid)
        )
        for sid in session_ids
    ]
    rows.append(
        {"PartitionKey": project, "RowKey": STATE_ROW, "Open": len(rows), "Held": i64(reserved * len(session_ids))}
    )
    for start in range(0, len(rows), 100):
        store._submit(store.tables.ledger, [("upsert", row) for row in rows[start : start + 100]])


def counting_transactions_store(*args):
    """A TableStore that records the size of every ledger transaction it submits (`.transactions`)."""
    from governor.store import TableStore

    class CountingTransactions(TableStore):
        def __init__(self, *args):
            super().__init__(*args)
            self.transactions: list[int] = []

        def _submit(self, table, ops):
            if table == self.tables.ledger:
                self.transactions.append(len(ops))
            return super()._submit(table, ops)

    return CountingTransactions(*args)
