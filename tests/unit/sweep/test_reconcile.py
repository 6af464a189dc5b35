"""Pure rules for unmanaged, pending and vanished sessions, and the warning window."""

from dataclasses import replace
from datetime import timedelta

import pytest

from governor.core.model import AuditRecord, LedgerState, SessionStatus, UnmanagedMode, VmSize, cost_of
from governor.core.policy.sweep import (
    Action,
    SweepOptions,
    claim_expired,
    claim_matches,
    decide_claim_expired,
    decide_claimed,
    decide_pending,
    decide_released,
    decide_unmanaged,
    decide_vanished,
    interrupted_outcome,
    interrupted_stop_saving,
    is_claim,
    pending_due,
)
from governor.core.policy.sweep import whole_minutes_window as _whole_minutes_window
from tests.unit.sweep.test_decisions import NOW, OPTS, RATE, entry, policy, session


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
    # an ended session ARR made under the id long before the row: an archived request's, charged there
    archived = replace(session(elapsed=40), status=SessionStatus.STOPPED, created=NOW - timedelta(days=2))
    assert decide_pending(replace(e, requested_at=NOW - timedelta(minutes=6)), archived, NOW).action is Action.RELEASE
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


def test_a_claim_matches_its_account_size_lease_and_window_only():
    claim = entry(state=LedgerState.PENDING, lease=30, requested_at=NOW - timedelta(minutes=3))
    made = replace(session(elapsed=2, lease=30), created=NOW - timedelta(minutes=3))
    assert claim_matches(claim, made, NOW)
    assert not claim_matches(claim, replace(made, account="other"), NOW)
    assert not claim_matches(claim, replace(made, size=VmSize.PREMIUM), NOW)
    assert claim_matches(claim, replace(made, size=None), NOW)  # v1 may omit the size
    assert not claim_matches(claim, replace(made, max_lease=timedelta(minutes=31)), NOW)
    assert not claim_matches(claim, replace(made, created=NOW - timedelta(minutes=6)), NOW)  # before the window
    assert not claim_matches(claim, replace(made, created=NOW + timedelta(minutes=8)), NOW)  # after it
    assert not claim_matches(claim, replace(made, status=SessionStatus.STOPPED), NOW)
    v1 = replace(made, created=None)  # no creation time: Ready since now - elapsed bounds it
    assert claim_matches(claim, v1, NOW)
    assert not claim_matches(claim, replace(v1, elapsed=timedelta(minutes=6)), NOW)


def test_claims_and_their_expiry():
    young = entry(state=LedgerState.PENDING, requested_at=NOW - timedelta(minutes=1))
    assert not is_claim(young, NOW, OPTS) and is_claim(replace(young, claim=True), NOW, OPTS)
    assert is_claim(replace(young, requested_at=NOW - timedelta(minutes=6)), NOW, OPTS)  # the gate is gone
    assert not is_claim(replace(young, state=LedgerState.ACTIVE, claim=True), NOW, OPTS)
    assert not claim_expired(replace(young, requested_at=NOW - timedelta(minutes=10)), NOW)
    assert claim_expired(replace(young, requested_at=NOW - timedelta(minutes=10, seconds=1)), NOW)
    assert decide_claim_expired(young, NOW).action is Action.RELEASE


def test_released_and_claimed_sessions_are_stopped_whatever_the_mode():
    released = decide_released(session(), entry(state=LedgerState.CLOSED), OPTS)
    claimed = decide_claimed(session(), entry(state=LedgerState.PENDING, claim=True), OPTS)
    assert (released.action, released.reason, released.figures["released"]) == (
        Action.STOP,
        "released-still-running",
        True,
    )
    assert (claimed.action, claimed.reason) == (Action.STOP, "claimed")
    assert decide_released(session(), entry(state=LedgerState.CLOSED), replace(OPTS, dry_run=True)).dry_run


@pytest.mark.parametrize(
    ("action", "figures", "listed", "row", "outcome"),
    [
        ("stop", {}, None, None, "ok"),
        ("stop", {}, "s", None, "failed"),
        ("extend", {"new_lease_minutes": 90}, "s90", "e", "ok"),
        ("extend", {"new_lease_minutes": 90}, "s", "e", "failed"),
        ("extend", {"ledger_lease_minutes": 90}, "s90", "e", "ok"),
        ("extend", {"leaseMinutes": 90}, "s90", "e", "ok"),  # the gate's granted lease
        ("extend", {"leaseMinutes": 90}, "s", "e", "failed"),
        ("close", {}, None, None, "ok"),
        ("release", {}, None, "e", "failed"),
        ("activate", {}, "s", "e", "ok"),
        ("activate", {}, "s", "p", "failed"),
        ("adopt", {}, "s", "e", "ok"),
        ("record", {}, "s", None, "failed"),
    ],
)
def test_an_interrupted_action_is_judged_by_what_the_next_sweep_sees(action, figures, listed, row, outcome):
    record = AuditRecord(NOW, "sweep", "alpha", "s1", action, "why", figures, outcome="unknown")
    sessions = {None: None, "s": session(lease=60), "s90": session(lease=90)}
    rows = {None: None, "e": entry(), "p": entry(state=LedgerState.PENDING)}
    assert interrupted_outcome(record, sessions[listed], rows[row]) == outcome


@pytest.mark.parametrize(
    ("action", "reason", "state", "status", "saved"),
    [
        ("stop", "idle", LedgerState.CLOSED, SessionStatus.STOPPED, 100),  # the 100 lease minutes it did not run
        ("stop", "claimed", LedgerState.CLOSED, SessionStatus.STOPPED, 100),
        ("stop", "idle", LedgerState.ACTIVE, None, 0),  # not settled yet: nothing known
        ("stop", "idle", LedgerState.CLOSED, SessionStatus.EXPIRED, 0),  # ran out its lease by itself
        ("stop", "unmanaged", LedgerState.CLOSED, SessionStatus.STOPPED, 0),  # no row paid for it
        ("stop", "released-still-running", LedgerState.CLOSED, SessionStatus.STOPPED, 0),
        ("extend", "lease-low", LedgerState.CLOSED, SessionStatus.STOPPED, 0),
    ],
)
def test_an_interrupted_stop_saves_what_the_stop_would_have_saved(action, reason, state, status, saved):
    record = AuditRecord(NOW, "sweep", "alpha", "s1", action, reason, {}, outcome="ok")
    row = entry(lease=120, state=state, final_status=status, charged_minutes=20)
    assert interrupted_stop_saving(record, row) == cost_of(RATE, saved)
    assert interrupted_stop_saving(record, None) == 0
