"""The gate's request path reads no more than it must: `reserve` decides by the policy the gate
read for the request (the store's copy of at most PROJECT_ROW_SECONDS, not read again), and
`activate` right after `reserve` writes with the ETag it got back instead of reading the partition
again, falling back to the read round whenever that row moved."""

from datetime import timedelta

import pytest

from governor.core.model import LedgerState, Period, Session, SessionStatus, VmSize, cost_of
from governor.core.policy.callers import PROJECT_ROW_SECONDS
from governor.service.ports import Refusal
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
        if ops:  # an empty list is no request
            self.calls.append(f"write {table[len(self.prefix) :]}")
        return super()._submit(table, ops)


def session(sid: str) -> Session:
    return Session(sid, "default", SessionStatus.STARTING, VmSize.STANDARD, timedelta(0), timedelta(minutes=60))


@pytest.fixture
def demo(azurite, table_prefix) -> Counting:
    store = Counting(azurite.connection_string, table_prefix)
    store.put_project(policy(max_concurrent=2))
    return store


def authenticated(store):
    """The policy as the gate reads it for a request (governor.service.gate.base.authenticate)."""
    return store.get_project("demo", max_age=PROJECT_ROW_SECONDS)


def reserve(store, sid: str, given=None):
    return store.reserve("demo", entry(sid), admit(cost_of(RATE, 60)), NOW, policy=given)


def test_reserve_with_the_callers_policy_does_not_read_it_again(demo):
    given = authenticated(demo)
    demo.calls.clear()
    reserve(demo, "s1", given=given)
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


# ---------------------------------------------------------------- remembered totals (issue 14)
COST = cost_of(RATE, 60)


def fresh(store, sid: str, at=NOW):
    """The gate's reserve for an id it drew at random: no read of the id's rows."""
    return store.reserve("demo", entry(sid, at=at), admit(COST), at, policy=authenticated(store), fresh=True)


def other(azurite, table_prefix) -> TableStore:
    """Another instance writing the same partition."""
    return TableStore(azurite.connection_string, table_prefix)


def test_a_fresh_id_after_this_process_wrote_the_partition_is_one_write_and_no_read(demo):
    reserve(demo, "s1", given=authenticated(demo))
    demo.calls.clear()
    fresh(demo, "s2")
    assert demo.calls == ["write Ledger"]
    usage = demo.usage("demo", Period.DAY, Period.DAY.key(NOW))
    assert usage.reserved == 2 * COST
    assert {e.session_id for e in demo.list_entries("demo")} == {"s1", "s2"}


def test_remembered_totals_another_instance_moved_are_read_before_admitting(demo, azurite, table_prefix):
    reserve(demo, "s1")  # this process remembers one open session of the two allowed
    other(azurite, table_prefix).reserve("demo", entry("s2"), admit(COST), NOW)
    demo.calls.clear()
    with pytest.raises(Refusal) as refused:
        fresh(demo, "s3")
    assert refused.value.reason == "concurrency-limit"
    assert demo.calls == ["write Ledger", "query Ledger"]  # the write failed on the ETag, then read
    assert demo.get_entry("demo", "s3") is None
    assert demo.usage("demo", Period.DAY, Period.DAY.key(NOW)).reserved == 2 * COST


def test_spend_metered_elsewhere_is_read_before_admitting(demo, azurite, table_prefix):
    reserve(demo, "s1")
    demo.activate("demo", "s1", session("s1"))  # remembered: 6 held, nothing spent
    other(azurite, table_prefix).meter("demo", "s1", 950, NOW)  # 95 of the day's 100 spent
    with pytest.raises(Refusal) as refused:
        fresh(demo, "s2")
    assert refused.value.reason == "budget-exhausted"
    assert demo.get_entry("demo", "s2") is None


def test_a_refusal_is_never_decided_on_remembered_totals(demo, azurite, table_prefix):
    fresh(demo, "s1")
    fresh(demo, "s2")  # remembered: two of two
    other(azurite, table_prefix).release("demo", "s1", NOW)
    demo.calls.clear()
    admitted, _ = fresh(demo, "s3")
    assert admitted.session_id == "s3"
    assert demo.calls == ["query Ledger", "write Ledger"]


def test_totals_of_another_day_are_not_remembered_for_today(demo):
    reserve(demo, "s1")
    demo.calls.clear()
    fresh(demo, "s2", at=NOW + timedelta(days=1))
    assert demo.calls == ["query Ledger", "write Ledger"]
    tomorrow = demo.usage("demo", Period.DAY, Period.DAY.key(NOW + timedelta(days=1)))
    assert tomorrow.reserved == 2 * COST and tomorrow.spent == 0


def test_a_row_deleted_between_a_later_rounds_read_and_write_is_read_again(demo, azurite, table_prefix):
    """Round 1 of the activation fails on the ETag (another instance beat the row); round 2 reads
    it, and before its write another instance releases it (the open row is deleted): a 404. Every
    round reads again, so round 3 sees the release and refuses as for any released reservation,
    rather than failing as a storage outage."""
    reserve(demo, "s1")
    elsewhere = TableStore(azurite.connection_string, table_prefix)
    elsewhere.heartbeat("demo", "s1", NOW)  # round 1's remembered ETag is stale
    submit, writes = demo._submit, []

    def release_before_the_second_write(table, ops):
        writes.append(table)
        if len(writes) == 2:
            elsewhere.release("demo", "s1", NOW)
        return submit(table, ops)

    demo._submit = release_before_the_second_write
    with pytest.raises(StateConflict):
        demo.activate("demo", "s1", session("s1"))
    assert len(writes) >= 2  # the release came between a later round's read and its write
    assert demo.get_entry("demo", "s1").state is LedgerState.CLOSED
