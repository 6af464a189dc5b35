"""activate, release, extend, heartbeat, close and adopt: each atomic and idempotent."""

from datetime import timedelta

import pytest

from governor.core.model import MICROS, LedgerState, Period, Session, SessionStatus, VmSize, cost_of
from governor.store import DuplicateEntry, NotFound, StateConflict, TableStore
from tests.integration.store.helpers import NOW, RATE, policy, reserve


def session(sid: str, lease_minutes: int = 60, elapsed: int = 0, size=VmSize.STANDARD) -> Session:
    return Session(
        sid, "default", SessionStatus.READY, size, timedelta(minutes=elapsed), timedelta(minutes=lease_minutes)
    )


def held(store) -> int:
    return store.usage("demo", Period.DAY, Period.DAY.key(NOW)).reserved


@pytest.fixture
def demo(store):
    store.put_project(policy())
    return store


def test_activate_moves_the_entry_to_arr_id_once(demo):
    reserve(demo, "r1")
    active = demo.activate("demo", "r1", session("arr-1"))
    assert (active.session_id, active.state, active.reserved) == ("arr-1", LedgerState.ACTIVE, cost_of(RATE, 60))
    # the reservation id leads to the session (an Idempotency-Key retry names the reservation)
    assert demo.get_entry("demo", "r1") == demo.get_entry("demo", "arr-1")
    assert demo.activate("demo", "r1", session("arr-1")) == demo.get_entry("demo", "arr-1")
    assert [e.session_id for e in demo.list_entries("demo")] == ["arr-1"]
    assert held(demo) == cost_of(RATE, 60)


def test_activate_under_the_same_id(demo):
    reserve(demo, "same")
    assert demo.activate("demo", "same", session("same")).state is LedgerState.ACTIVE


def test_release_gives_the_reservation_back_and_is_idempotent(demo):
    reserve(demo, "r1")
    demo.release("demo", "r1", NOW)
    demo.release("demo", "r1", NOW)
    demo.release("demo", "never-existed", NOW)
    assert held(demo) == 0
    assert demo.list_entries("demo") == []
    closed = demo.get_entry("demo", "r1")
    assert closed.state is LedgerState.CLOSED and closed.reserved == 0 and closed.charged == 0
    with pytest.raises(StateConflict):
        demo.activate("demo", "r1", session("arr-1"))


def test_release_refuses_an_active_entry(demo):
    reserve(demo, "r1")
    demo.activate("demo", "r1", session("r1"))
    with pytest.raises(StateConflict):
        demo.release("demo", "r1", NOW)


def test_close_charges_releases_and_is_idempotent(demo):
    reserve(demo, "s1")
    demo.activate("demo", "s1", session("s1"))
    closed = demo.close("demo", "s1", 25, "Stopped", NOW)
    assert closed.state is LedgerState.CLOSED and closed.final_status is SessionStatus.STOPPED
    assert (closed.charged_minutes, closed.charged, closed.reserved) == (25, cost_of(RATE, 25), 0)
    again = demo.close("demo", "s1", 40, "Expired", NOW)
    assert (again.charged_minutes, again.final_status) == (25, SessionStatus.STOPPED)
    usage = demo.usage("demo", Period.DAY, Period.DAY.key(NOW))
    assert (usage.spent, usage.reserved) == (cost_of(RATE, 25), 0)
    assert demo.snapshot(NOW).open_entries == []
    assert [e.session_id for e in demo.list_entries("demo", include_closed=True)] == ["s1"]


def test_close_after_an_overrun_charges_all_minutes(demo):
    reserve(demo, "s1", lease_minutes=10)
    closed = demo.close("demo", "s1", 30, "Expired", NOW)
    assert closed.charged == cost_of(RATE, 30) and held(demo) == 0


def test_extend_reserves_the_extra_lease(demo):
    reserve(demo, "s1", lease_minutes=60)
    longer, usage = demo.extend("demo", "s1", lambda entry, usage: entry.lease + timedelta(minutes=30), NOW)
    assert longer.lease == timedelta(minutes=90) and longer.extensions == 1
    assert longer.reserved == cost_of(RATE, 90) == usage[Period.DAY].reserved == held(demo)
    same, _ = demo.extend("demo", "s1", lambda entry, usage: entry.lease, NOW)
    assert same.lease == timedelta(minutes=90) and same.extensions == 1


def test_extend_refusal_propagates_and_writes_nothing(demo):
    from governor.service.ports import Refusal

    reserve(demo, "s1")

    def refuse(entry, usage):
        raise Refusal("budget-exhausted", "no")

    with pytest.raises(Refusal):
        demo.extend("demo", "s1", refuse, NOW)
    assert demo.get_entry("demo", "s1").lease == timedelta(minutes=60)


def test_heartbeat_only_moves_forward(demo):
    reserve(demo, "s1")
    assert demo.heartbeat("demo", "s1", NOW).last_heartbeat == NOW
    assert demo.heartbeat("demo", "s1", NOW - timedelta(minutes=5)).last_heartbeat == NOW
    assert demo.get_entry("demo", "s1").last_heartbeat == NOW
    with pytest.raises(NotFound):
        demo.heartbeat("demo", "nope", NOW)


def test_heartbeat_keeps_arr_elapsed_with_its_time(demo):
    reserve(demo, "s1")
    demo.activate("demo", "s1", session("s1"))
    assert demo.get_entry("demo", "s1").heartbeat_elapsed is None
    beaten = demo.heartbeat("demo", "s1", NOW, timedelta(minutes=7, seconds=30))
    assert beaten.heartbeat_elapsed == timedelta(minutes=7, seconds=30)
    assert demo.get_entry("demo", "s1") == beaten
    demo.meter("demo", "s1", 8, NOW)  # other writes carry the reading along
    assert demo.get_entry("demo", "s1").heartbeat_elapsed == timedelta(minutes=7, seconds=30)
    older = demo.heartbeat("demo", "s1", NOW - timedelta(minutes=1), timedelta(minutes=6))
    assert (older.last_heartbeat, older.heartbeat_elapsed) == (NOW, timedelta(minutes=7, seconds=30))
    later = NOW + timedelta(minutes=1)
    unread = demo.heartbeat("demo", "s1", later)  # ARR unread: no stale reading beside the new time
    assert (unread.last_heartbeat, unread.heartbeat_elapsed) == (later, None)
    assert demo.get_entry("demo", "s1").heartbeat_elapsed is None


def test_adopt_records_an_unmanaged_session_once(demo):
    adopted = demo.adopt("demo", session("u1", lease_minutes=120, size=VmSize.PREMIUM), NOW)
    assert adopted.adopted and adopted.state is LedgerState.ACTIVE and adopted.rate == 4 * RATE
    assert adopted.reserved == cost_of(4 * RATE, 120)
    assert demo.adopt("demo", session("u1"), NOW).reserved == adopted.reserved
    assert held(demo) == cost_of(4 * RATE, 120)
    assert demo.snapshot(NOW).usage[("demo", Period.DAY)].reserved == 48 * MICROS


def test_operations_on_missing_entries(demo):
    with pytest.raises(NotFound):
        demo.meter("demo", "nope", 3, NOW)
    with pytest.raises(NotFound):
        demo.close("demo", "nope", 3, "Stopped", NOW)
    with pytest.raises(NotFound):
        demo.activate("demo", "nope", session("x"))
    with pytest.raises(ValueError):
        demo.close("demo", "nope", 3, "Bogus", NOW)


def test_revert_extension_gives_the_extra_reservation_back(demo):
    reserve(demo, "s1", lease_minutes=60)
    demo.extend("demo", "s1", lambda entry, usage: timedelta(minutes=90), NOW)
    ninety = timedelta(minutes=90)
    reverted = demo.revert_extension("demo", "s1", timedelta(minutes=60), NOW, extended_to=ninety)
    assert reverted.lease == timedelta(minutes=60) and reverted.extensions == 0
    assert reverted.reserved == cost_of(RATE, 60) == held(demo)
    again = demo.revert_extension("demo", "s1", timedelta(minutes=60), NOW, extended_to=ninety)
    assert again.reserved == cost_of(RATE, 60) == held(demo)


def test_a_revert_leaves_an_extension_someone_made_on_top_of_it(demo, azurite, table_prefix):
    """The gate extends to 90, the sweep (another store) to 120; ARR refuses the gate's 90. Reverting
    to 60 would free the money of the sweep's 120, which ARR may well run: the row keeps it."""
    reserve(demo, "s1", lease_minutes=60)
    demo.extend("demo", "s1", lambda entry, usage: timedelta(minutes=90), NOW)
    sweep = TableStore(azurite.connection_string, table_prefix)
    sweep.extend("demo", "s1", lambda entry, usage: timedelta(minutes=120), NOW)
    kept = demo.revert_extension("demo", "s1", timedelta(minutes=60), NOW, extended_to=timedelta(minutes=90))
    assert kept.lease == timedelta(minutes=120) and kept.extensions == 2
    assert kept.reserved == cost_of(RATE, 120) == held(demo)


def test_a_v1_reservation_id_cannot_be_reserved_again_once_activated(demo, azurite, table_prefix):
    """v1: activation moves the row to ARR's id and leaves a pointer under the reservation's. A
    second starter of the same attempt id (another instance, the sweep) must find it taken, or one
    attempt would run two sessions and the pointer would lead to the second."""
    reserve(demo, "next", lease_minutes=60)
    demo.activate("demo", "next", session("X"))
    other = TableStore(azurite.connection_string, table_prefix)
    with pytest.raises(DuplicateEntry):
        reserve(other, "next", lease_minutes=60)
    assert held(demo) == cost_of(RATE, 60)
    assert demo.get_entry("demo", "next").session_id == "X"
