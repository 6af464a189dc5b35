"""The sweep's extension decides by the project row its ledger round reads, not by the sweep's
snapshot: the round may run seconds after the snapshot was read (ARR's calls, ETag retries), and a
step, hard cap or caller limit an operator lowered meanwhile must hold. Here the operator edits the
Projects table after the sweep decided its step and before the extension's round runs: the ledger
reserves, and ARR is asked for, no more than the lowered row allows, or nothing at all."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from governor.core.model import CallerLimits, Period, cost_of
from tests.integration.sweep.conftest import RATE

M = timedelta(minutes=1)
PRINCIPAL = "principal:abc"


def decided_lease(stack, sid: str) -> int | None:
    """The lease the sweep decided for `sid`, from the intent audit row it writes before acting."""
    rows = [r for r in stack.audit("alpha") if r.session_id == sid and r.action == "extend"]
    return rows[0].figures.get("new_lease_minutes") if rows else None


def lowered_before_the_round(stack, monkeypatch, **change) -> list[int]:
    """The operator's edit of the project row, made when the sweep's extension calls the store
    (after the sweep decided its step from its snapshot, before the round reads the row); the
    returned list holds the lease the sweep had decided then (`[51]`: the race this test needs happened)."""
    extend, decided = stack.store.extend, []

    def operator_meanwhile(project, session_id, decide, now, *args, **kwargs):
        decided.append(decided_lease(stack, session_id))
        stack.store.put_project(replace(stack.store.get_project(project), **change))
        return extend(project, session_id, decide, now, *args, **kwargs)

    monkeypatch.setattr(stack.store, "extend", operator_meanwhile)
    return decided


def sweep_at_lease_low(stack, sid: str) -> None:
    stack.advance(5 + 21 * 60)  # 21 minutes in, 9 of the 30-minute lease left: the step is to 51
    stack.heartbeat("alpha", sid)
    stack.sweep()


def the_row(stack, sid: str):
    (row,) = [r for r in stack.audit("alpha") if r.session_id == sid]
    return row


def held(stack) -> int:
    usage = stack.store.usage("alpha", Period.DAY, Period.DAY.key(stack.now))
    return usage.spent + usage.reserved


@pytest.mark.parametrize(
    ("change", "lease"),
    [
        ({"hard_max_duration": 40 * M}, 40),  # the cap, lowered under the decided 51
        ({"extension_step": 15 * M}, 36),  # 21 + the lowered step
    ],
    ids=["hard-cap", "step"],
)
def test_a_step_or_cap_lowered_before_the_round_bounds_the_lease_reserved_and_asked_of_arr(
    stack, monkeypatch, change, lease
):
    policy = stack.project("alpha")
    sid = stack.admit(policy, 30)
    decided = lowered_before_the_round(stack, monkeypatch, **change)
    sweep_at_lease_low(stack, sid)
    assert decided == [51], "the sweep did not decide the snapshot's step before the row changed"
    entry = stack.store.get_entry("alpha", sid)
    assert entry.lease == lease * M, f"the ledger reserved {entry.lease} past the lowered row's {lease} min"
    assert stack.truth()[sid]["maxLeaseMinutes"] == lease, "ARR was asked for more than the lowered row allows"
    assert held(stack) == cost_of(RATE, lease)  # nothing reserved that ARR was not asked for
    row = the_row(stack, sid)
    assert (row.action, row.reason, row.outcome) == ("extend", "lease-low", "ok")
    figures = row.figures
    assert (figures["decided_lease_minutes"], figures["new_lease_minutes"], figures["applied_lease_minutes"]) == (
        51,
        lease,
        lease,
    )
    assert figures["extra_cost"] == cost_of(RATE, lease) - cost_of(RATE, 30)


def test_a_cap_lowered_to_the_lease_before_the_round_refuses_the_extension(stack, monkeypatch):
    policy = stack.project("alpha")
    sid = stack.admit(policy, 30)
    decided = lowered_before_the_round(stack, monkeypatch, hard_max_duration=30 * M)
    sweep_at_lease_low(stack, sid)
    assert decided == [51]
    assert stack.store.get_entry("alpha", sid).lease == 30 * M
    assert stack.truth()[sid]["maxLeaseMinutes"] == 30  # ARR was not asked
    assert held(stack) == cost_of(RATE, 30)
    row = the_row(stack, sid)
    assert (row.action, row.outcome, row.figures.get("error")) == ("extend", "skipped", "extension-refused-cap")


def test_a_callers_limit_lowered_before_the_round_refuses_the_extension(stack, monkeypatch):
    """The principal's own daily budget pays for 60 minutes when the sweep decides the step to 51,
    for 40 when the round reads the row: the round holds it to the 40."""
    limits = {"abc": CallerLimits(daily_budget=cost_of(RATE, 60))}
    policy = stack.project("alpha", principals=frozenset({"abc"}), principal_limits=limits)
    sid = stack.admit(policy, 30, caller=PRINCIPAL)
    lowered = {"abc": CallerLimits(daily_budget=cost_of(RATE, 40))}
    decided = lowered_before_the_round(stack, monkeypatch, principal_limits=lowered)
    sweep_at_lease_low(stack, sid)
    assert decided == [51]
    assert stack.store.get_entry("alpha", sid).lease == 30 * M
    assert stack.truth()[sid]["maxLeaseMinutes"] == 30
    assert held(stack) == cost_of(RATE, 30)
    row = the_row(stack, sid)
    assert (row.action, row.outcome, row.figures.get("error")) == ("extend", "skipped", "extension-refused-caller")
