"""Admission is one ETag-guarded transaction: racing reservations never over-commit."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from governor.core.model import MICROS, LedgerState, Period
from governor.service.ports import Refusal
from governor.store import DuplicateEntry
from governor.store.entities import get
from governor.store.keys import STATE_ROW, open_key
from tests.integration.store.helpers import NOW, RATE, admit, entry, policy, reserve


def _race(store, count: int):
    barrier = threading.Barrier(count)

    def one(index: int):
        barrier.wait()
        try:
            return reserve(store, f"r{index}")[0]
        except Refusal as refusal:
            return refusal

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_twenty_racing_reservations_never_exceed_the_budget(store):
    # Each reservation costs 6.00 (60 min at 6/h); 50.00 a day pays for 8 of them.
    store.put_project(policy(daily_budget=50 * MICROS))
    results = _race(store, 20)
    admitted = [r for r in results if not isinstance(r, Refusal)]
    refused = [r for r in results if isinstance(r, Refusal)]
    assert len(admitted) == 8
    assert len(refused) == 12 and {r.reason for r in refused} == {"budget-exhausted"}
    usage = store.usage("demo", Period.DAY, Period.DAY.key(NOW))
    assert usage.reserved == 8 * 6 * MICROS <= usage.budget
    assert sorted(e.session_id for e in store.list_entries("demo")) == sorted(e.session_id for e in admitted)


def test_racing_reservations_respect_max_concurrent(store):
    store.put_project(policy(max_concurrent=3, daily_budget=None, monthly_budget=None))
    results = _race(store, 20)
    refused = [r for r in results if isinstance(r, Refusal)]
    assert len(refused) == 17 and {r.reason for r in refused} == {"concurrency-limit"}
    assert len(store.list_entries("demo")) == 3


def test_reserve_and_ledger_insert_are_one_transaction(store):
    """Make the ledger insert fail after the decision: the budget row must not move."""
    store.put_project(policy())
    reserve(store, "warmup")  # the state row exists and holds 6.00
    ledger = store._table(store.tables.ledger)
    before = ledger.get_entity("demo", STATE_ROW)

    def decide_then_sabotage(snapshot):
        # Another writer inserts the very row our transaction will insert.
        ledger.create_entity({"PartitionKey": "demo", "RowKey": open_key("r2"), "SessionId": "r2", "State": "x"})
        return 6 * MICROS

    with pytest.raises(DuplicateEntry):
        store.reserve("demo", entry("r2"), decide_then_sabotage, NOW)
    after = ledger.get_entity("demo", STATE_ROW)
    assert after.metadata["etag"] == before.metadata["etag"]
    assert get(after, "Held") == 6 * MICROS and get(after, "Open") == 1


def test_refusal_writes_nothing(store):
    store.put_project(policy(daily_budget=MICROS))
    with pytest.raises(Refusal) as caught:
        reserve(store, "r1")
    assert caught.value.reason == "budget-exhausted"
    assert store.get_entry("demo", "r1") is None
    assert store.usage("demo", Period.DAY, Period.DAY.key(NOW)).reserved == 0


def test_reserve_returns_pending_entry_and_usage(store):
    store.put_project(policy())
    pending, usage = reserve(store, "r1")
    assert pending.state is LedgerState.PENDING and pending.reserved == cost(60)
    assert usage[Period.DAY].reserved == cost(60) and usage[Period.MONTH].remaining == 1000 * MICROS - cost(60)
    assert store.get_entry("demo", "r1").reserved == cost(60)


def test_duplicate_reservation_id_is_refused(store):
    store.put_project(policy())
    reserve(store, "r1")
    with pytest.raises(DuplicateEntry):
        reserve(store, "r1")


def test_unknown_project_is_not_found(store):
    from governor.store import NotFound

    with pytest.raises(NotFound):
        store.reserve("ghost", entry("r1", project="ghost"), admit(1), NOW)


def test_decide_sees_counts_and_usage(store):
    store.put_project(policy())
    reserve(store, "r1")
    seen = []

    def decide(snapshot):
        seen.append(snapshot)
        return 0

    store.reserve("demo", entry("r2"), decide, NOW)
    assert seen[0].active_sessions == 1 and seen[0].usage[Period.DAY].reserved == cost(60)
    assert seen[0].policy.name == "demo"


def cost(minutes: int) -> int:
    from governor.core.model import cost_of

    return cost_of(RATE, minutes)
