"""The gate's request path reads no more than it must: `reserve` can take the policy the gate
already read, and `activate` right after `reserve` writes with the ETag it got back instead of
reading the partition again, falling back to the read round whenever that row moved."""

from datetime import timedelta

import pytest

from governor.model import LedgerState, Period, Session, SessionStatus, VmSize, cost_of
from governor.store import StateConflict, TableStore
from tests.integration.store.helpers import NOW, RATE, admit, entry, policy


class Counting(TableStore):
    def __init__(self, *args):
        super().__init__(*args)
        self.calls: list[str] = []

    def _query(self, table, *args, **kwargs):
        self.calls.append(f"query {table[len(self.prefix) :]}")
        return super()._query(table, *args, **kwargs)

    def _point(self, table, *args):
        self.calls.append(f"read {table[len(self.prefix) :]}")
        return super()._point(table, *args)

    def _submit(self, table, ops):
        self.calls.append(f"write {table[len(self.prefix) :]}")
        return super()._submit(table, ops)


def session(sid: str) -> Session:
    return Session(sid, "default", SessionStatus.STARTING, VmSize.STANDARD, timedelta(0), timedelta(minutes=60))


@pytest.fixture
def demo(azurite, table_prefix) -> Counting:
    store = Counting(azurite.connection_string, table_prefix)
    store.put_project(policy())
    return store


def reserve(store, sid: str, given=None):
    return store.reserve("demo", entry(sid), admit(cost_of(RATE, 60)), NOW, policy=given)


def test_reserve_with_the_callers_policy_does_not_read_it_again(demo):
    demo.calls.clear()
    reserve(demo, "s1", given=policy())
    assert demo.calls == ["query Ledger", "write Ledger"]
    demo.calls.clear()
    reserve(demo, "s2")
    assert demo.calls == ["read Projects", "query Ledger", "write Ledger"]


@pytest.mark.parametrize("arr_id", ["s1", "arr-1"])
def test_activate_after_reserve_is_one_write(demo, arr_id):
    reserve(demo, "s1")
    demo.calls.clear()
    active = demo.activate("demo", "s1", session(arr_id))
    assert demo.calls == ["write Ledger"]
    assert active.state is LedgerState.ACTIVE and active.session_id == arr_id
    stored = demo.get_entry("demo", arr_id)
    assert stored == active
    assert [e.session_id for e in demo.list_entries("demo")] == [arr_id]
    usage = demo.usage("demo", Period.DAY, Period.DAY.key(NOW))
    assert usage.reserved == cost_of(RATE, 60)


def test_activate_reads_again_when_the_row_moved_since_reserve(demo, azurite, table_prefix):
    reserve(demo, "s1")
    TableStore(azurite.connection_string, table_prefix).heartbeat("demo", "s1", NOW)  # new ETag
    demo.calls.clear()
    active = demo.activate("demo", "s1", session("s1"))
    assert demo.calls == ["write Ledger", "query Ledger", "write Ledger"]
    assert active.state is LedgerState.ACTIVE and active.last_heartbeat == NOW


def test_activate_of_a_reservation_released_elsewhere_still_refuses(demo, azurite, table_prefix):
    reserve(demo, "s1")
    TableStore(azurite.connection_string, table_prefix).release("demo", "s1", NOW)
    with pytest.raises(StateConflict):
        demo.activate("demo", "s1", session("arr-1"))
    assert demo.get_entry("demo", "arr-1") is None
    assert demo.get_entry("demo", "s1").state is LedgerState.CLOSED
