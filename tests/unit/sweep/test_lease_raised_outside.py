"""The decision table's rule for a lease raised outside the governor (ARR ahead of the ledger)."""

from datetime import timedelta

import pytest

from governor.core.model import SessionStatus, cost_of
from governor.core.policy.sweep import Action, SweepOptions
from tests.unit.sweep.test_decisions import RATE, M, entry, policy, run, session, usage


def test_arr_lease_above_the_ledger_is_recorded_with_its_extra_cost():
    d = run(s=session(elapsed=60, lease=180), e=entry(lease=120))
    assert (d.action, d.reason, d.new_lease, d.event) == (Action.RECORD, "lease-raised-outside", 180 * M, "warn")
    assert d.acts
    extra = cost_of(RATE, 180) - cost_of(RATE, 120)
    assert (d.figures["ledger_lease_minutes"], d.figures["lease_minutes"], d.figures["extra_cost"]) == (120, 180, extra)


@pytest.mark.parametrize("arr_lease, action", [(120, Action.LEAVE), (121, Action.RECORD)])
def test_boundary_is_one_whole_minute(arr_lease, action):
    assert run(s=session(elapsed=60, lease=arr_lease), e=entry(lease=120)).action is action


def test_recorded_even_when_the_budget_cannot_cover_it():
    # 100 minutes of room left but ARR already holds 6 more hours: ARR bills it regardless
    u = usage(spent=0, reserved=95_000_000, budget=100_000_000)
    d = run(s=session(elapsed=60, lease=480), e=entry(lease=120), u=u)
    assert (d.action, d.reason) == (Action.RECORD, "lease-raised-outside")
    assert d.figures["extra_cost"] > u[next(iter(u))].remaining


def test_a_starting_session_is_recorded_too():
    d = run(s=session(elapsed=2, lease=240, status=SessionStatus.STARTING), e=entry(lease=120))
    assert d.action is Action.RECORD


def test_stop_rules_come_first():
    exhausted = usage(spent=100_000_000)
    assert run(s=session(lease=600), e=entry(lease=120), u=exhausted).reason == "budget-exhausted"
    assert run(s=session(elapsed=480, lease=600), e=entry(lease=120)).reason == "hard-cap"
    idle = run(s=session(elapsed=60, lease=600), e=entry(lease=120, heartbeat_ago=None))
    assert idle.reason == "idle"


def test_comes_before_the_extension_rule():
    # remaining lease low on ARR's own figure would otherwise trigger lease-low: the record wins this sweep
    d = run(s=session(elapsed=125, lease=130), e=entry(lease=120))
    assert (d.action, d.new_lease) == (Action.RECORD, 130 * M)
    after = run(s=session(elapsed=125, lease=130), e=entry(lease=130))
    assert (after.action, after.reason) == (Action.EXTEND, "lease-low")


def test_ledger_equal_to_arr_is_left_alone_after_recording():
    assert run(s=session(elapsed=60, lease=180), e=entry(lease=180)).action is Action.LEAVE


@pytest.mark.parametrize(
    "status", [SessionStatus.STOPPING, SessionStatus.STOPPED, SessionStatus.EXPIRED, SessionStatus.ERROR]
)
def test_a_session_no_longer_running_is_left_as_it_is(status):
    """ARR no longer bills a longer lease past the end: nothing to record, reserve or extend."""
    d = run(s=session(elapsed=60, lease=180, status=status), e=entry(lease=120))
    assert (d.action, d.reason, d.new_lease, d.event) == (Action.LEAVE, "ok", None, None)
    assert not d.acts and d.figures.get("extra_cost") is None


def test_dry_run_is_carried_and_a_warning_rides_along():
    opts = SweepOptions(warn_before=timedelta(minutes=10), window=M, dry_run=True)
    d = run(s=session(elapsed=470, lease=479), e=entry(lease=400), p=policy(), opts=opts)
    assert (d.action, d.dry_run, d.warning) == (Action.RECORD, True, "hard-cap-soon")
