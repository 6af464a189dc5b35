"""The sweep's snapshot: open entries of every project and current usage, in one query per table."""

from governor.core.model import LedgerState, Period, cost_of
from tests.integration.store.helpers import NOW, RATE, policy, reserve


def test_snapshot_joins_projects_entries_and_usage(store):
    store.put_project(policy("a"))
    store.put_project(policy("b", daily_budget=None))
    reserve(store, "a1", project="a")
    reserve(store, "a2", project="a")
    reserve(store, "b1", project="b", lease_minutes=30)
    store.close("a", "a2", 10, "Stopped", NOW)
    store.meter("b", "b1", 5, NOW)
    snapshot = store.snapshot(NOW)
    assert set(snapshot.projects) == {"a", "b"}
    assert sorted((e.project, e.session_id) for e in snapshot.open_entries) == [("a", "a1"), ("b", "b1")]
    assert all(e.state is LedgerState.PENDING for e in snapshot.open_entries)
    assert snapshot.usage[("a", Period.DAY)].spent == cost_of(RATE, 10)
    assert snapshot.usage[("a", Period.DAY)].reserved == cost_of(RATE, 60)
    assert snapshot.usage[("b", Period.MONTH)].reserved == cost_of(RATE, 30) - cost_of(RATE, 5)
    assert snapshot.usage[("b", Period.DAY)].budget is None
    assert snapshot.read_at == NOW


def test_snapshot_of_an_empty_store(store):
    snapshot = store.snapshot(NOW)
    assert (snapshot.projects, snapshot.open_entries, snapshot.usage) == ({}, [], {})
