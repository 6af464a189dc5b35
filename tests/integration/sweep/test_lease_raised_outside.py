"""A lease raised on ARR directly (outside the gate and the sweep): the sweep records and reserves it."""

from datetime import timedelta

from governor.core.model import Period, cost_of
from tests.integration.sweep.conftest import RATE


def rows_of(stack, sid, reason="lease-raised-outside"):
    return [r for r in stack.audit() if r.session_id == sid and r.reason == reason]


def raised_outside(stack, policy, lease=60, raised=180):
    sid = stack.admit(policy, lease)
    stack.advance(5 + 10 * 60)
    stack.heartbeat(policy.name, sid)
    stack.arr["default"].update_lease(sid, timedelta(minutes=raised))
    return sid


def committed_today(stack, project):
    """Spent plus reserved: metering moves money from one to the other, the sum is what ARR may bill."""
    usage = stack.store.usage(project, Period.DAY, Period.DAY.key(stack.now))
    return usage.spent + usage.reserved


def test_sweep_records_the_arr_lease_and_reserves_it_once(stack):
    policy = stack.project("alpha")
    sid = raised_outside(stack, policy)
    held_before = committed_today(stack, "alpha")

    report = stack.sweep()
    assert report["counts"].get("record") == 1 and "extend" not in report["counts"]
    entry = stack.store.get_entry("alpha", sid)
    assert (entry.lease, entry.extensions) == (timedelta(minutes=180), 0)
    extra = cost_of(RATE, 180) - cost_of(RATE, 60)
    assert committed_today(stack, "alpha") == held_before + extra
    (row,) = rows_of(stack, sid)
    assert (row.action, row.outcome, row.dry_run) == ("record", "ok", False)
    assert (row.figures["ledger_lease_minutes"], row.figures["lease_minutes"], row.figures["extra_cost"]) == (
        60,
        180,
        extra,
    )
    assert stack.truth()[sid]["maxLeaseMinutes"] == 180  # ARR untouched

    stack.advance(60)
    stack.heartbeat("alpha", sid)
    again = stack.sweep()
    assert "record" not in again["counts"]
    assert len(rows_of(stack, sid)) == 1
    assert stack.store.get_entry("alpha", sid).lease == timedelta(minutes=180)


def test_dry_run_audits_but_writes_nothing(stack):
    policy = stack.project("alpha")
    sid = raised_outside(stack, policy)
    before = stack.store.get_entry("alpha", sid)
    held_before = committed_today(stack, "alpha")

    stack.sweep(dry_run=True)
    (row,) = rows_of(stack, sid)
    assert (row.action, row.outcome, row.dry_run) == ("record", "skipped", True)
    after = stack.store.get_entry("alpha", sid)
    assert (after.lease, after.extensions) == (before.lease, 0)  # metering still runs; the lease is not written
    assert committed_today(stack, "alpha") == held_before


def test_recorded_even_if_it_overdraws_then_the_budget_stops_the_session(stack):
    policy = stack.project("tight", daily_budget=cost_of(RATE, 90), idle_timeout=timedelta(hours=2))
    sid = raised_outside(stack, policy, lease=60, raised=115)
    stack.sweep()
    entry = stack.store.get_entry("tight", sid)
    assert entry.lease == timedelta(minutes=115)
    assert committed_today(stack, "tight") == cost_of(RATE, 115) > policy.daily_budget  # overdrawn: ARR bills it

    stack.advance(85 * 60)  # 95 ARR minutes: spending passes the 90-minute budget
    stack.heartbeat("tight", sid)
    stack.sweep()
    (stop,) = rows_of(stack, sid, "budget-exhausted")
    assert stop.outcome == "ok" and stack.truth()[sid]["status"] == "Stopped"
