"""Metering is idempotent by checkpoint, race-safe, and batched per partition."""

import threading

from governor.core.model import Period, cost_of
from governor.store.base import MAX_BATCH
from tests.integration.store.helpers import NOW, RATE, policy, reserve, seed_active


def spent(store, at=NOW) -> int:
    return store.usage("demo", Period.DAY, Period.DAY.key(at)).spent


def test_meter_repeat_and_smaller_elapsed_change_nothing(store):
    store.put_project(policy())
    reserve(store, "s1")
    first = store.meter("demo", "s1", 10, NOW)
    assert (first.charged_minutes, first.charged) == (10, cost_of(RATE, 10))
    assert first.reserved == cost_of(RATE, 60) - cost_of(RATE, 10)
    etag = store.get_entry("demo", "s1").etag
    assert store.meter("demo", "s1", 10, NOW).charged == first.charged
    assert store.meter("demo", "s1", 4, NOW).charged_minutes == 10
    assert store.get_entry("demo", "s1").etag == etag  # no write at all
    assert spent(store) == cost_of(RATE, 10)
    assert store.usage("demo", Period.MONTH, Period.MONTH.key(NOW)).spent == cost_of(RATE, 10)


def test_concurrent_meters_of_one_session_charge_once(store):
    store.put_project(policy())
    reserve(store, "s1")
    barrier = threading.Barrier(2)
    errors = []

    def meter():
        barrier.wait()
        try:
            store.meter("demo", "s1", 17, NOW)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=meter) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert spent(store) == cost_of(RATE, 17)
    assert store.get_entry("demo", "s1").charged_minutes == 17


def test_meter_many_chunks_beyond_one_transaction(store):
    store.put_project(policy(max_concurrent=500, daily_budget=None, monthly_budget=None))
    count = MAX_BATCH + 30
    seed_active(store, "demo", [f"s{index:03d}" for index in range(count)])
    charges = [("demo", f"s{index:03d}", 5) for index in range(count)]
    assert store.meter_many([*charges, ("demo", "gone", 9)], NOW) == count
    assert spent(store) == count * cost_of(RATE, 5)
    assert store.meter_many(charges, NOW) == 0  # idempotent
    assert store.meter_many([("demo", "s000", 6), ("demo", "s001", 5)], NOW) == 1
    assert spent(store) == (count - 1) * cost_of(RATE, 5) + cost_of(RATE, 6)
    held = store.usage("demo", Period.DAY, Period.DAY.key(NOW)).reserved
    assert held == sum(e.reserved for e in store.list_entries("demo"))


def test_meter_many_spans_projects(store):
    store.put_project(policy("a"))
    store.put_project(policy("b"))
    reserve(store, "x", project="a")
    reserve(store, "y", project="b")
    assert store.meter_many([("a", "x", 3), ("b", "y", 4), ("a", "x", 2)], NOW) == 2
    snapshot = store.snapshot(NOW)
    assert snapshot.usage[("a", Period.DAY)].spent == cost_of(RATE, 3)
    assert snapshot.usage[("b", Period.DAY)].spent == cost_of(RATE, 4)


def test_meter_of_a_closed_entry_changes_nothing(store):
    store.put_project(policy())
    reserve(store, "s1")
    store.close("demo", "s1", 5, "Stopped", NOW)
    assert store.meter("demo", "s1", 50, NOW).charged_minutes == 5
    assert store.meter_many([("demo", "s1", 50)], NOW) == 0
    assert spent(store) == cost_of(RATE, 5)


def test_meter_many_over_many_projects_reads_once_and_stays_exact(store):
    names = [f"p{i}" for i in range(6)]
    for name in names:
        store.put_project(policy(name))
        reserve(store, "s", project=name)
    assert store.meter_many([(name, "s", 7) for name in names], NOW) == 6
    snapshot = store.snapshot(NOW)
    assert all(snapshot.usage[(name, Period.DAY)].spent == cost_of(RATE, 7) for name in names)


def test_a_stale_prefetch_falls_back_to_a_fresh_read(store):
    store.put_project(policy())
    reserve(store, "s1")
    stale = store._read_all(NOW)["demo"]
    store.meter("demo", "s1", 10, NOW)  # moves the ETags the prefetch holds
    assert store._meter_project("demo", {"s1": 12}, NOW, stale) == 1
    assert spent(store) == cost_of(RATE, 12)
    assert store.get_entry("demo", "s1").charged_minutes == 12


def test_a_prefetch_holding_an_entry_closed_between_its_two_queries_reads_again(store):
    """The sweep's prefetch reads the open rows, then the state rows: an entry closed in between is
    still in the first and the second is fresh, so the write fails on the missing row (404, not
    412). The project is read again and metered, not reported as failed."""
    store.put_project(policy())
    reserve(store, "s1")
    reserve(store, "s2")
    stale = store._read_all(NOW)["demo"]  # the first query's open rows...
    store.close("demo", "s1", 3, "Stopped", NOW)
    fresh = store._read_all(NOW)["demo"]  # ...and the second's state and usage rows, after the close
    stale.state, stale.usage_rows, stale.slices = fresh.state, fresh.usage_rows, fresh.slices
    assert store._meter_project("demo", {"s1": 12, "s2": 12}, NOW, stale) == 1
    assert store.get_entry("demo", "s2").charged_minutes == 12
    assert store.get_entry("demo", "s1").charged_minutes == 3  # closed at its own minutes, not re-metered
    assert spent(store) == cost_of(RATE, 15)
