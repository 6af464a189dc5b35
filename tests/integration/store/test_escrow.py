"""Escrow slices (store/escrow.py): a store admits from a slice of budget and slots it took with
an earlier admission, writing only its slice row and the session row, so instances bursting on
one project do not fight over its state row. Nothing is refused while the project as a whole can
pay, nothing is admitted that it cannot, and every figure stays exact."""

from __future__ import annotations

from datetime import timedelta

import pytest

from governor.core.model import Period, cost_of
from governor.service.ports import Refusal
from governor.store import TableStore
from governor.store.entities import get
from governor.store.escrow import SLICE_PREFIX, SLICE_SECONDS, slice_key
from governor.store.keys import OPEN_PREFIX, STATE_ROW
from tests.integration.store.helpers import NOW, RATE, admit, entry, policy

COST = cost_of(RATE, 60)  # 6.00


def admit_fresh(store: TableStore, sid: str, at=NOW, given=None):
    """What the gate does: an id drawn just now, so no read of its row."""
    return store.reserve("demo", entry(sid, at=at), admit(COST), at, policy=given, fresh=True)


def rows(store: TableStore) -> dict[str, dict]:
    return {row["RowKey"]: row for row in store._table(store.tables.ledger).query_entities("PartitionKey eq 'demo'")}


def slices(store: TableStore) -> dict[str, dict]:
    return {key: row for key, row in rows(store).items() if key.startswith(SLICE_PREFIX)}


def assert_exact(store: TableStore, at=NOW) -> None:
    """The state row counts every slice as taken; every figure leaves them out."""
    found = rows(store)
    entries = [row for key, row in found.items() if key.startswith(OPEN_PREFIX)]
    held = [row for key, row in found.items() if key.startswith(SLICE_PREFIX)]
    state = found[STATE_ROW]
    assert get(state, "Open") == len(entries) + sum(get(r, "Slots") for r in held)
    assert get(state, "Held") == sum(get(r, "Reserved") for r in entries) + sum(get(r, "Free") for r in held)
    reserved = sum(get(r, "Reserved") for r in entries)
    assert store.usage("demo", Period.DAY, Period.DAY.key(at)).reserved == reserved
    assert all(u.reserved == reserved for u in store.current_usage("demo", at).values())
    assert store.snapshot(at).usage[("demo", Period.DAY)].reserved == reserved


def contend(a: TableStore, b: TableStore) -> None:
    """Both take a slice with their first admission; A admits from its own."""
    admit_fresh(a, "a0")
    admit_fresh(b, "b0")
    admit_fresh(a, "a1")


@pytest.fixture
def pair(azurite, table_prefix):
    a = TableStore(azurite.connection_string, table_prefix)
    b = TableStore(azurite.connection_string, table_prefix)
    a.put_project(policy())
    return a, b


def test_a_store_admits_from_its_slice_without_writing_the_state_row(pair):
    a, b = pair
    admit_fresh(a, "a0")
    (taken,) = slices(a).values()  # taken with the first admission, in the same transaction
    assert get(taken, "Slots") >= 2 and get(taken, "Free") == get(taken, "Slots") * COST
    assert_exact(a)
    state = rows(a)[STATE_ROW]
    entry_, _ = admit_fresh(a, "a1")
    after = rows(a)
    assert after[STATE_ROW].metadata["etag"] == state.metadata["etag"]  # the state row was not written
    assert get(after[OPEN_PREFIX + "a1"], "Reserved") == COST == entry_.reserved
    assert get(after[taken["RowKey"]], "Free") == get(taken, "Free") - COST
    assert_exact(b)


def test_a_small_project_takes_no_slice(pair):
    """Fewer than two admissions' worth in a quarter of what is free: the exact path only."""
    a, _ = pair
    a.put_project(policy(max_concurrent=4))
    for i in range(3):
        admit_fresh(a, f"a{i}")
    assert slices(a) == {}
    assert_exact(a)


@pytest.mark.parametrize("limit", ["budget", "maxConcurrent"])
@pytest.mark.parametrize("k", [7, 20])
def test_a_limit_of_k_admits_exactly_k_while_slices_are_held(azurite, table_prefix, limit, k):
    stores = [TableStore(azurite.connection_string, table_prefix) for _ in range(3)]
    if limit == "budget":  # K leases and not one more: the (K+1)th is short by one micro
        stores[0].put_project(policy(daily_budget=(k + 1) * COST - 1, monthly_budget=None, max_concurrent=1000))
    else:
        stores[0].put_project(policy(daily_budget=None, monthly_budget=None, max_concurrent=k))
    admitted, refused, turn = 0, 0, 0
    while refused < 2 * len(stores):  # each store refused twice in a row: the project is full
        store = stores[turn % len(stores)]
        try:
            admit_fresh(store, f"s{turn}")
        except Refusal:
            refused += 1
        else:
            assert refused == 0, "a refusal before the project was full"
            admitted += 1
        turn += 1
    assert admitted == k
    assert_exact(stores[0])


def test_a_slice_taken_back_meanwhile_is_not_spent_again(pair):
    """The slice row's ETag guards it: B takes A's slice back to pay; A's stale copy cannot admit."""
    a, b = pair
    a.put_project(policy(daily_budget=20 * COST - 1, monthly_budget=None, max_concurrent=1000))
    contend(a, b)
    assert slices(a)
    admitted = 3
    while True:
        try:
            admit_fresh(b, f"b{admitted}")
        except Refusal:
            break
        admitted += 1
    assert admitted == 19 and slices(a) == {}
    with pytest.raises(Refusal):
        admit_fresh(a, "late")
    assert_exact(a)


def test_an_overrun_takes_every_slice_back(pair):
    a, b = pair
    contend(a, b)
    assert slices(a)
    b.meter("demo", "b0", 61, NOW)  # one minute past its 60-minute reservation
    assert slices(a) == {}
    assert_exact(a)


def test_a_slice_past_its_time_goes_back_with_anothers_next_state_write(pair, azurite, table_prefix):
    a, b = pair
    contend(a, b)
    key = slice_key(a._owner)
    assert key in slices(a)
    later = NOW + timedelta(seconds=SLICE_SECONDS + 1)
    c = TableStore(azurite.connection_string, table_prefix)  # no slice: it writes the state row
    admit_fresh(c, "c0", at=later)
    assert key not in slices(a)
    assert_exact(a, later)


def test_its_owner_renews_a_slice_past_its_time_nobody_took_back(pair):
    a, b = pair
    contend(a, b)
    state = rows(a)[STATE_ROW]
    later = NOW + timedelta(seconds=SLICE_SECONDS + 1)
    admit_fresh(a, "a2", at=later)
    assert rows(a)[STATE_ROW].metadata["etag"] == state.metadata["etag"]  # from the slice, renewed
    assert get(slices(a)[slice_key(a._owner)], "Until") > later
    assert_exact(a, later)


def test_a_lowered_budget_makes_a_slice_unusable(pair):
    a, b = pair
    contend(a, b)
    assert slice_key(a._owner) in slices(a)
    lower = policy(daily_budget=3 * COST, monthly_budget=None)  # exactly the three admitted so far
    a.put_project(lower)
    with pytest.raises(Refusal):
        admit_fresh(a, "a2", given=lower)
    assert_exact(a)


def test_sessions_from_a_slice_close_and_release_like_any_other(pair):
    a, b = pair
    contend(a, b)
    admit_fresh(a, "a2")
    b.close("demo", "a2", 10, "Stopped", NOW)
    b.release("demo", "a1", NOW)
    assert_exact(a)
    assert a.usage("demo", Period.DAY, Period.DAY.key(NOW)).spent == cost_of(RATE, 10)


def test_with_every_slice_taken_the_one_used_longest_ago_makes_room(pair, azurite, table_prefix, monkeypatch):
    import governor.store.ledger as ledger

    monkeypatch.setattr(ledger, "MAX_SLICES", 2)  # the real 48 is the same rule, with more stores
    a, b = pair
    admit_fresh(a, "a0")
    admit_fresh(b, "b0", at=NOW + timedelta(seconds=1))
    c = TableStore(azurite.connection_string, table_prefix)
    admit_fresh(c, "c0", at=NOW + timedelta(seconds=2))
    assert set(slices(a)) == {slice_key(b._owner), slice_key(c._owner)}  # A's was used longest ago
    assert_exact(a, NOW + timedelta(seconds=2))
