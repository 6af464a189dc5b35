"""The sweep's step, decided from its snapshot and judged again in the extension's ledger round by
the project row and caller limits that round read (`step_target`, `round_step`), and the figures a
shortened step writes (`sweep_steps.shortened_step`)."""

from dataclasses import replace
from datetime import timedelta

import pytest

from governor.core.errors import Refusal
from governor.core.model import CallerFigures, CallerLimits, Period, cost_of
from governor.core.policy import document as documents
from governor.core.policy import sweep_steps as steps
from governor.core.policy.sweep import Action, decide, round_step, step_target
from tests.unit.sweep.test_decisions import NOW, OPTS, RATE, M, entry, policy, session, usage

# NOW is Tuesday 12:00 UTC, 13:00 in Berlin: a window to 13:20 closes in 20 minutes, one to 13:05 in 5
LOW = dict(elapsed=60, lease=69)  # 9 minutes left, under the 10-minute threshold: the step is to 90


def closing_at(local: str, closing: str = "finish") -> dict:
    doc = {"timeZone": "Europe/Berlin", "hours": {"tue": [f"08:00-{local}"]}, "closing": closing}
    return {"schedule": documents.schedule_from_document(doc)}


def held_at(lease: int, **kw):
    return session(elapsed=60, lease=lease), entry(lease=lease, **kw)


@pytest.mark.parametrize(
    ("row", "target", "refused"),
    [
        ({}, 90, None),  # elapsed + the step
        ({"extension_step": 15 * M}, 75, None),
        ({"hard_max_duration": 80 * M}, 80, None),  # the cap, not the step
        ({"hard_max_duration": 69 * M}, None, "extension-refused-cap"),  # the cap is the lease already
        (closing_at("13:20"), 80, None),  # closing time, not the step
        (closing_at("13:05"), None, "closed-hours"),  # closing is before the lease's end
        (closing_at("11:00"), None, "closed-hours"),  # closed (closing "finish": running on)
    ],
)
def test_the_step_is_one_step_within_the_hard_cap_and_closing_time(row, target, refused):
    pol = replace(policy(), **row)
    assert step_target(session(**LOW), pol, NOW, 69 * M) == (None if target is None else target * M, refused)


@pytest.mark.parametrize(
    "row",
    [
        {},
        {"extension_step": 15 * M},
        {"hard_max_duration": 80 * M},
        {"hard_max_duration": 69 * M},
        closing_at("13:20"),
        closing_at("13:05"),
    ],
)
def test_the_sweeps_decision_extends_to_the_step_or_refuses_for_its_reason(row):
    pol = replace(policy(), **row)
    decision = decide(session(**LOW), entry(lease=69), pol, usage(), NOW, OPTS)
    target, refused = step_target(session(**LOW), pol, NOW, 69 * M)
    if target is None:
        assert (decision.action, decision.reason) == (Action.WARN, refused)
    else:
        assert (decision.action, decision.new_lease) == (Action.EXTEND, target)


def round_(row: dict, decided: int = 90, lease: int = 69, use=None, limits=None, figures=None):
    s, e = held_at(lease, caller=figures and figures.name)
    pol = replace(policy(), **row)
    return round_step(e, s, decided * M, pol, NOW, use or usage(), limits, figures)


def test_the_round_reserves_the_decided_step_when_the_row_is_unchanged():
    assert round_({}) == 90 * M


@pytest.mark.parametrize(
    ("row", "lease"),
    [
        ({"hard_max_duration": 80 * M}, 80),
        ({"extension_step": 15 * M}, 75),
        (closing_at("13:20"), 80),
        ({"hard_max_duration": 9 * 60 * M, "extension_step": 60 * M}, 90),  # raised: the decided step bounds it
    ],
)
def test_a_row_lowered_since_the_snapshot_bounds_the_step_the_round_reserves(row, lease):
    assert round_(row) == lease * M


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"hard_max_duration": 69 * M}, "extension-refused-cap"),
        ({"hard_max_duration": 60 * M}, "extension-refused-cap"),
        (closing_at("13:05"), "closed-hours"),
        (closing_at("11:00", closing="stop"), "closed-hours"),
        ({"enabled": False}, "project-disabled"),
    ],
)
def test_a_row_that_allows_no_step_refuses_it_for_the_sweeps_reason(row, reason):
    with pytest.raises(Refusal) as refused:
        round_(row)
    assert refused.value.reason == reason


def test_a_step_held_already_is_kept_whatever_the_row_says_now():
    # the gate or another sweep extended it to 90 meanwhile: nothing to reserve, nothing refused
    assert round_({"hard_max_duration": 60 * M}, lease=90) == 90 * M


def test_the_budgets_by_the_round_judge_the_whole_step_the_row_allows():
    extra = cost_of(RATE, 80) - cost_of(RATE, 69)  # the step to 80, not the decided 90
    lowered = {"hard_max_duration": 80 * M}
    assert round_(lowered, use=usage(budget=extra)) == 80 * M
    with pytest.raises(Refusal) as refused:
        round_(lowered, use=usage(budget=extra - 1))
    assert refused.value.reason == "extension-refused-budget"
    limits = CallerLimits(daily_budget=extra - 1)  # the caller's limits as the round's row has them
    figures = CallerFigures("kiosk", 1, 0, {Period.DAY: 0})
    assert round_(lowered, limits=replace(limits, daily_budget=extra), figures=figures) == 80 * M
    with pytest.raises(Refusal) as refused:
        round_(lowered, limits=limits, figures=figures)
    assert refused.value.reason == "extension-refused-caller"


def test_a_shortened_step_writes_what_was_reserved_and_what_was_decided():
    assert steps.shortened_step(90 * M, 69 * M, RATE, 90 * M) == {}
    assert steps.shortened_step(90 * M, 69 * M, RATE, 80 * M) == {
        "decided_lease_minutes": 90,
        "new_lease_minutes": 80,
        "extra_cost": cost_of(RATE, 80) - cost_of(RATE, 69),
    }


def test_an_unchanged_row_decides_in_the_round_as_the_sweep_did():
    """The same row, read again: the round's step is the snapshot's (no second copy of the rule)."""
    pol = policy()
    decision = decide(session(**LOW), entry(lease=69), pol, usage(), NOW, OPTS)
    assert decision.new_lease is not None
    s, e = held_at(69)
    assert round_step(e, s, decision.new_lease, pol, NOW, usage()) == decision.new_lease == timedelta(minutes=90)
