"""Closing time on the emulator's virtual clock: the sweep warns, then stops (closing "stop") or
stops extending (closing "finish")."""

from datetime import timedelta

from governor.core.model import Closing, Schedule, Window
from governor.core.policy.schedule import WEEKDAYS, opening


def closing_in(stack, minutes: int, closing: Closing) -> Schedule:
    """UTC working hours that opened an hour ago and close `minutes` from the stack's now."""
    start, end = stack.now - timedelta(hours=1), stack.now + timedelta(minutes=minutes)
    window = Window(start.hour * 60 + start.minute, end.hour * 60 + end.minute)
    hours = [()] * len(WEEKDAYS)
    hours[start.weekday()] = (window,)
    schedule = Schedule("UTC", tuple(hours), closing=closing)
    assert opening(schedule, stack.now).closes_at == end.replace(second=0, microsecond=0)
    return schedule


def reasons(stack, sid):
    return [(r.action, r.reason) for r in reversed(stack.audit()) if r.session_id == sid]


def test_closing_stop_warns_then_stops_at_closing(stack):

    policy = stack.project("alpha", schedule=closing_in(stack, 30, Closing.STOP))
    closes = opening(policy.schedule, stack.now).closes_at
    sid = stack.admit(policy, 120)
    stack.advance(5)
    stack.heartbeat("alpha", sid)
    stack.sweep()
    stack.advance((closes - stack.now).total_seconds() - 9 * 60)  # nine minutes before closing
    stack.heartbeat("alpha", sid)
    stack.sweep()
    assert ("warn", "closing-soon") in reasons(stack, sid)
    assert stack.truth()[sid]["status"] == "Ready"
    stack.advance((closes - stack.now).total_seconds() + 1)
    stack.heartbeat("alpha", sid)
    report = stack.sweep()
    assert report["counts"].get("stop") == 1
    assert ("stop", "closed-hours") in reasons(stack, sid)
    assert stack.truth()[sid]["status"] == "Stopped"


def test_closing_finish_extends_only_up_to_closing_then_lets_the_lease_run_out(stack):
    policy = stack.project("alpha", schedule=closing_in(stack, 25, Closing.FINISH))
    closes = opening(policy.schedule, stack.now).closes_at
    sid = stack.admit(policy, 15)
    stack.advance(5)
    ready = stack.now
    stack.heartbeat("alpha", sid)
    stack.advance(6 * 60)  # 6 min in: 9 left, under the 10 min threshold
    stack.heartbeat("alpha", sid)
    stack.sweep()
    entry = stack.store.get_entry("alpha", sid)
    # a full step would be 6 + 30 = 36 minutes; closing caps it at the minutes from Ready to closing
    assert entry.lease == timedelta(minutes=int((closes - ready).total_seconds() // 60))
    assert stack.truth()[sid]["maxLeaseMinutes"] == entry.lease.total_seconds() // 60
    stack.advance((closes - stack.now).total_seconds() + 1)
    stack.heartbeat("alpha", sid)
    report = stack.sweep()
    assert "stop" not in report["counts"] and "extend" not in report["counts"]
    assert stack.store.get_entry("alpha", sid).lease == entry.lease  # never extended past closing
