from datetime import timedelta

from governor.model import MICROS, LedgerState, Period, Session, SessionStatus, VmSize
from tests.integration.store.helpers import NOW, policy, reserve


def test_lifecycle(store):
    store.put_project(policy())
    pending, usage = reserve(store, "r1")
    assert pending.state is LedgerState.PENDING and pending.reserved == 6 * MICROS
    assert usage[Period.DAY].reserved == 6 * MICROS
    session = Session("s1", "default", SessionStatus.READY, VmSize.STANDARD, timedelta(0), timedelta(minutes=60))
    active = store.activate("demo", "r1", session)
    assert active.session_id == "s1" and active.state is LedgerState.ACTIVE
    assert store.get_entry("demo", "r1") is None
    metered = store.meter("demo", "s1", 10, NOW)
    assert metered.charged == MICROS and metered.reserved == 5 * MICROS
    closed = store.close("demo", "s1", 20, "Stopped", NOW)
    assert closed.charged == 2 * MICROS and closed.reserved == 0
    u = store.usage("demo", Period.DAY, Period.DAY.key(NOW))
    assert (u.spent, u.reserved) == (2 * MICROS, 0)
    snap = store.snapshot(NOW)
    assert snap.open_entries == [] and snap.usage[("demo", Period.MONTH)].spent == 2 * MICROS
