"""Warnings on ARR's clock: the sweep's warning window is the gap between sweeps measured in ARR
minutes (the governor's gap times GOVERNOR_ARR_TIME_SCALE), and a stop nearer than the next sweep
is warned now. So at `make run`'s x60 (5 ARR minutes between sweeps), and at any faster scale, the
hard-cap warning and the refusal at the cap each come exactly once, and before the cap."""

from dataclasses import replace
from datetime import timedelta

import pytest

from governor.core.policy.sweep import Action, SweepOptions, minutes_ahead
from governor.core.policy.sweep import whole_minutes_window as _whole_minutes_window
from governor.service.health import sweep_interval
from tests.unit.sweep.test_decisions import NOW, entry, policy, run, session

M = timedelta(minutes=1)
CAP = 120  # minutes: the policy's hard cap in these runs


@pytest.mark.parametrize(
    ("seconds", "scale", "minutes"), [(60, 1, 1), (5, 60, 5), (5.4, 60, 5), (2, 60, 2), (15, 60, 15), (1, 1, 1)]
)
def test_the_window_is_the_gap_between_sweeps_on_arrs_clock(seconds, scale, minutes):
    assert _whole_minutes_window(timedelta(seconds=seconds), scale) == minutes * M


@pytest.mark.parametrize(
    ("schedule", "scale", "minutes"),
    [("0 * * * * *", 1, 1), ("*/5 * * * * *", 60, 5), ("*/2 * * * * *", 60, 2), ("0 */5 * * * *", 1, 5)],
)
def test_the_next_sweep_is_the_schedules_interval_on_arrs_clock(schedule, scale, minutes):
    assert minutes_ahead(sweep_interval(schedule, NOW), scale) == minutes * M


def sweeps(step: int, phase: int, lease: int, warn_before: int = 10) -> list[tuple[int, object]]:
    """Decide a heartbeating session whose ledger and ARR lease is `lease` minutes, at the sweeps
    of a timer that moves ARR `step` minutes each time (the first at elapsed `phase`), up to the cap."""
    options = SweepOptions(warn_before=warn_before * M, window=step * M, ahead=step * M)
    p = policy(hard_max_duration=CAP * M)
    return [
        (elapsed, run(s=session(elapsed=elapsed, lease=lease), e=entry(lease=lease), p=p, opts=options))
        for elapsed in range(CAP - 40 + phase, CAP + 1, step)
    ]


def events(decided, name: str) -> list[tuple[int, str]]:
    found = []
    for elapsed, d in decided:
        if d.event == name:
            found.append((elapsed, d.reason))
        if name == "warn" and d.warning:
            found.append((elapsed, d.warning))
    return found


@pytest.mark.parametrize("step", [1, 2, 5, 15, 25])
def test_the_hard_cap_is_warned_once_and_before_it_at_any_scale(step):
    for phase in range(step):
        decided = sweeps(step, phase, lease=CAP)
        warned = [(e, r) for e, r in events(decided, "warn") if r == "hard-cap-soon"]
        assert len(warned) == 1, (step, phase, warned)
        (elapsed, _), stops = warned[0], [e for e, d in decided if d.action is Action.STOP]
        assert elapsed < CAP and all(elapsed < stop for stop in stops)
        assert CAP - elapsed <= max(10, step)  # not sooner than needed


@pytest.mark.parametrize("step", [1, 2, 5])
def test_the_refusal_at_the_cap_is_sent_once(step):
    for phase in range(step):
        refused = events(sweeps(step, phase, lease=CAP), "refused")
        assert [r for _, r in refused] == ["extension-refused-cap"], (step, phase, refused)


def test_make_runs_scale_with_the_old_one_minute_window_missed_the_warning():
    """What issue 24 saw: at x60 with a sweep every 5 s, a window of 1 minute (the governor's 5 s
    rounded up) made the sweep at 9 minutes to the cap believe the previous one had seen 10."""
    p = policy(hard_max_duration=CAP * M)
    old = SweepOptions(warn_before=10 * M, window=1 * M)
    d = run(s=session(elapsed=CAP - 9, lease=CAP), e=entry(lease=CAP), p=p, opts=old)
    assert "hard-cap-soon" not in (d.reason, d.warning)
    d = run(s=session(elapsed=CAP - 9, lease=CAP), e=entry(lease=CAP), p=p, opts=replace(old, window=5 * M))
    assert "hard-cap-soon" in (d.reason, d.warning)
