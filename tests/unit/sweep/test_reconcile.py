"""Pure rules for unmanaged, pending and vanished sessions, and the warning window."""

from dataclasses import replace
from datetime import timedelta

import pytest

from governor.model import LedgerState, SessionStatus, UnmanagedMode
from governor.policy.sweep import (
    Action,
    SweepOptions,
    decide_pending,
    decide_unmanaged,
    decide_vanished,
    pending_due,
)
from governor.service.sweep import _whole_minutes_window
from tests.unit.sweep.test_decisions import NOW, OPTS, entry, policy, session


@pytest.mark.parametrize(
    ("mode", "action"),
    [(UnmanagedMode.REPORT, Action.REPORT), (UnmanagedMode.STOP, Action.STOP), (UnmanagedMode.ADOPT, Action.ADOPT)],
)
def test_unmanaged_modes(mode, action):
    d = decide_unmanaged(session(), mode, policy(name="orphans"), OPTS)
    assert (d.action, d.reason, d.figures["mode"]) == (action, "unmanaged", mode.value)


def test_adopt_without_a_project_reports_and_dry_run_is_carried():
    d = decide_unmanaged(session(), UnmanagedMode.ADOPT, None, OPTS)
    assert (d.action, d.reason) == (Action.REPORT, "unmanaged-adopt-project-missing")
    assert decide_unmanaged(session(), UnmanagedMode.STOP, None, replace(OPTS, dry_run=True)).dry_run
    assert decide_unmanaged(session(), UnmanagedMode.ADOPT, policy(dry_run=True), OPTS).dry_run


def test_pending_grace_boundary():
    young = entry(state=LedgerState.PENDING, requested_at=NOW - timedelta(minutes=5))
    old = entry(state=LedgerState.PENDING, requested_at=NOW - timedelta(minutes=5, seconds=1))
    assert not pending_due(young, NOW, OPTS) and pending_due(old, NOW, OPTS)
    assert not pending_due(entry(requested_at=NOW - timedelta(hours=1)), NOW, OPTS)  # active, not pending
    assert pending_due(young, NOW, SweepOptions(pending_grace=timedelta(minutes=1)))


def test_pending_found_is_activated_missing_is_released():
    e = entry(state=LedgerState.PENDING, reserved=1_500_000)
    assert decide_pending(e, session(), NOW).action is Action.ACTIVATE
    ended = decide_pending(e, replace(session(elapsed=15), status=SessionStatus.EXPIRED), NOW)
    assert (ended.action, ended.reason, ended.figures["final_minutes"]) == (Action.CLOSE, "pending-ended-expired", 15)
    released = decide_pending(e, None, NOW)
    assert (released.action, released.reason, released.figures["reserved"]) == (
        Action.RELEASE,
        "pending-orphaned",
        1_500_000,
    )


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (SessionStatus.STOPPED, "ended-stopped"),
        (SessionStatus.EXPIRED, "ended-expired"),
        (SessionStatus.ERROR, "ended-error"),
    ],
)
def test_vanished_sessions_close_at_arrs_final_minutes(status, reason):
    final = replace(session(elapsed=47), status=status)
    d = decide_vanished(entry(charged_minutes=45), final)
    assert (d.action, d.reason, d.figures["final_minutes"]) == (Action.CLOSE, reason, 47)


def test_vanished_but_still_active_is_left_and_unknown_closes_at_the_checkpoint():
    assert decide_vanished(entry(), session()).action is Action.LEAVE
    d = decide_vanished(entry(charged_minutes=12), None)
    assert (d.action, d.reason, d.figures["final_minutes"]) == (Action.CLOSE, "vanished-unknown", 12)


@pytest.mark.parametrize(("seconds", "minutes"), [(1, 1), (59.7, 1), (60.3, 1), (89, 1), (91, 2), (300, 5)])
def test_the_warning_window_is_whole_minutes_at_least_one(seconds, minutes):
    assert _whole_minutes_window(timedelta(seconds=seconds)) == timedelta(minutes=minutes)
