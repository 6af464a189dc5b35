"""The sweep's automatic extensions keep within a caller's own budget (a named key's, or a
principal's), not only the project's: a key with 50 minutes' worth a day cannot be extended to a
51st minute by heartbeating."""

from __future__ import annotations

from datetime import timedelta

import pytest

from governor.core.model import CallerLimits, Period, cost_of, extension_saving
from tests.integration.sweep.conftest import RATE


def setup(stack, kind: str, budget_minutes: int) -> tuple:
    limits = CallerLimits(daily_budget=cost_of(RATE, budget_minutes))
    if kind == "key":
        policy = stack.project("alpha")
        stack.store.add_key("alpha", "kiosk", stack.now, limits=limits)
        return policy, "kiosk"
    policy = stack.project("alpha", principals=frozenset({"abc"}), principal_limits={"abc": limits})
    return policy, "principal:abc"


@pytest.mark.parametrize("kind", ["key", "principal"])
@pytest.mark.parametrize(("budget_minutes", "extended"), [(51, True), (50, False)])
def test_the_sweep_extends_only_within_the_callers_own_budget(stack, kind, budget_minutes, extended):
    policy, caller = setup(stack, kind, budget_minutes)
    sid = stack.admit(policy, 30, caller=caller)  # holds 30 minutes' worth; the step to 51 costs 21 more
    stack.advance(5 + 21 * 60)
    stack.heartbeat("alpha", sid)
    stack.sweep()
    entry = stack.store.get_entry("alpha", sid)
    (row,) = [r for r in stack.audit("alpha") if r.session_id == sid]
    if extended:
        assert stack.truth()[sid]["maxLeaseMinutes"] == 51 and entry.lease == timedelta(minutes=51)
        assert (row.action, row.reason, row.outcome) == ("extend", "lease-low", "ok")
        assert entry.saved_extension == 0
    else:
        assert stack.truth()[sid]["maxLeaseMinutes"] == 30 and entry.lease == timedelta(minutes=30)
        assert (row.action, row.reason, row.figures["caller"]) == ("warn", "extension-refused-caller", caller)
        assert entry.saved_extension == extension_saving(RATE, policy.extension_step)  # a refusal saves the step
    usage = stack.store.usage("alpha", Period.DAY, Period.DAY.key(stack.now))
    assert usage.spent + usage.reserved == cost_of(RATE, 51 if extended else 30)


def test_other_callers_and_the_project_are_not_held_to_a_keys_budget(stack):
    policy, _ = setup(stack, "key", 10)  # kiosk could not pay for any step
    sid = stack.admit(policy, 30, caller="lobby")  # another key, no limits of its own
    stack.advance(5 + 21 * 60)
    stack.heartbeat("alpha", sid)
    stack.sweep()
    assert stack.truth()[sid]["maxLeaseMinutes"] == 51


def test_the_step_is_decided_again_inside_the_ledger_round(stack, monkeypatch):
    """The caller's figures can move between the sweep's read and its act (the gate admits another
    of its sessions): the extension's own guarded round counts them again and refuses."""
    policy, caller = setup(stack, "key", 51)
    sid = stack.admit(policy, 30, caller=caller)
    stack.advance(5 + 21 * 60)
    stack.heartbeat("alpha", sid)
    extend = stack.store.extend

    def admitted_meanwhile(*args, **kwargs):
        stack.admit(policy, 30, caller=caller)  # the key now holds 60 minutes' worth of its 51
        return extend(*args, **kwargs)

    monkeypatch.setattr(stack.store, "extend", admitted_meanwhile)
    stack.sweep()
    assert stack.truth()[sid]["maxLeaseMinutes"] == 30
    assert stack.store.get_entry("alpha", sid).lease == timedelta(minutes=30)
    (row,) = [r for r in stack.audit("alpha") if r.session_id == sid]
    assert (row.action, row.outcome, row.figures.get("error")) == ("extend", "skipped", "extension-refused-caller")
