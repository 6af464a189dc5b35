"""Savings against the emulator's ground truth: what the governor's stops and refusals avoided."""

from dataclasses import replace
from datetime import timedelta

import pytest

from governor.core.model import LedgerState, Period, cost_of
from tests.integration.sweep.conftest import RATE


def saved(stack, project, start):
    keys, at = set(), start
    while at <= stack.now + timedelta(days=1):
        keys.add(Period.DAY.key(at))
        at += timedelta(days=1)
    return sum(stack.store.usage(project, Period.DAY, key).saved for key in keys)


def test_savings_equal_the_leases_cut_short_and_the_steps_refused(stack):
    start = stack.now
    step = 30
    alpha = stack.project("alpha")  # idle 15 min, step 30, threshold 10
    beta = stack.project("beta", daily_budget=cost_of(RATE, 40))  # cannot afford a step
    capped = stack.project("capped", hard_max_duration=timedelta(minutes=40))
    gamma = stack.project("gamma")
    idle = stack.admit(alpha, 60)  # stopped idle: the rest of its 60 minutes is saved
    poor = stack.admit(beta, 30)  # extension refused for budget: one step saved, runs out its lease
    cap = stack.admit(capped, 30)  # extended to the 40-minute cap, then refused: one step saved
    doomed = stack.admit(gamma, 90)  # stopped when the project is disabled
    beating = {("beta", poor), ("capped", cap), ("gamma", doomed)}
    stack.advance(5)
    for tick in range(1, 28):  # a sweep every 2 minutes for 54 minutes
        stack.advance(120)
        for project, sid in beating:
            stack.heartbeat(project, sid)
        if tick == 12:
            stack.store.put_project(replace(gamma, enabled=False))
        report = stack.sweep()
        assert report["failed"] == 0 and not report["errors"], report

    truth = stack.truth()

    def cut_short(sid):
        billed = int(truth[sid]["billedSeconds"] // 60)
        return cost_of(RATE, truth[sid]["maxLeaseMinutes"]) - cost_of(RATE, billed)

    assert truth[idle]["status"] == "Stopped" and truth[doomed]["status"] == "Stopped"
    assert truth[poor]["status"] == "Expired" and truth[poor]["maxLeaseMinutes"] == 30  # never extended
    assert truth[cap]["maxLeaseMinutes"] == 40  # extended once, to the cap, then refused
    expected = {
        "alpha": cut_short(idle),
        "beta": cost_of(RATE, step),
        "capped": cost_of(RATE, step) + cut_short(cap),
        "gamma": cut_short(doomed),
    }
    assert expected["alpha"] > 0 and expected["gamma"] > 0, expected
    assert {p: saved(stack, p, start) for p in expected} == expected
    for project, sid in (("alpha", idle), ("beta", poor), ("capped", cap), ("gamma", doomed)):
        assert stack.store.get_entry(project, sid).state is LedgerState.CLOSED

    # idempotent: sweeping again, or repeating a saving, records nothing twice
    stack.advance(120)
    stack.sweep()
    entry = stack.store.get_entry("alpha", idle)
    stack.store.save("alpha", idle, "lease", entry.saved_lease, stack.now)
    assert {p: saved(stack, p, start) for p in expected} == expected


def test_a_dry_run_stop_saves_nothing(stack):
    start = stack.now
    shadow = stack.project("shadow", dry_run=True)
    stack.admit(shadow, 60)
    stack.advance(5 + 20 * 60)
    stack.sweep()
    assert saved(stack, "shadow", start) == 0


class DiesAt:
    """The store of a sweep process that dies when it calls `method`: that call and every later
    one fail, so nothing after it (close, saving, audit outcome, health row) is written."""

    def __init__(self, store, method):
        self.store, self.method, self.dead = store, method, False

    def __getattr__(self, name):
        attr = getattr(self.store, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            self.dead = self.dead or name == self.method
            if self.dead:
                raise RuntimeError("the process died")
            return attr(*args, **kwargs)

        return call


@pytest.mark.parametrize("dies_at", ["close", "save"])
def test_a_stop_whose_sweep_died_before_recording_it_is_saved_by_the_next_sweep(stack, dies_at):
    start = stack.now
    alpha = stack.project("alpha")  # idle 15 min
    idle = stack.admit(alpha, 60)
    stack.advance(5 + 20 * 60)
    real = stack.store
    stack.store = DiesAt(real, dies_at)
    stack.sweep()
    stack.store = real
    assert stack.truth()[idle]["status"] == "Stopped"  # ARR stopped it, the ledger never heard
    (row,) = [r for r in stack.audit("alpha") if r.session_id == idle]
    assert (row.action, row.reason, row.outcome) == ("stop", "idle", "unknown")
    assert stack.store.get_entry("alpha", idle).saved_lease == 0
    assert saved(stack, "alpha", start) == 0

    stack.advance(11 * 60)  # the dead run's lock lapses
    report = stack.sweep()
    assert report["failed"] == 0 and not report["errors"], report
    truth = stack.truth()[idle]
    # what the uninterrupted stop records (test above): the lease ARR granted less the minutes it billed
    expected = cost_of(RATE, truth["maxLeaseMinutes"]) - cost_of(RATE, int(truth["billedSeconds"] // 60))
    assert expected > 0
    entry = stack.store.get_entry("alpha", idle)
    assert (entry.state, entry.saved_lease) == (LedgerState.CLOSED, expected)
    assert saved(stack, "alpha", start) == expected
    completed = [r for r in stack.audit("alpha") if r.session_id == idle and r.action == "stop"]
    assert [(r.outcome, r.figures["completed"]) for r in completed] == [("ok", "next-sweep")]

    stack.advance(120)  # a second sweep records nothing more
    stack.sweep()
    assert saved(stack, "alpha", start) == expected
    assert stack.store.get_entry("alpha", idle).saved_lease == expected


def test_an_interrupted_stop_of_a_released_session_saves_nothing(stack):
    start = stack.now
    alpha = stack.project("alpha")
    sid = stack.admit(alpha, 60)
    stack.store.close("alpha", sid, 0, "Stopped", stack.now)  # the ledger settled it; ARR runs on
    stack.advance(60)
    real = stack.store
    stack.store = DiesAt(real, "complete_audit")
    stack.sweep()
    stack.store = real
    (row,) = [r for r in stack.audit("alpha") if r.session_id == sid]
    assert (row.reason, row.outcome) == ("released-still-running", "unknown")
    stack.advance(11 * 60)  # the dead run's lock lapses
    stack.sweep()
    assert stack.truth()[sid]["status"] == "Stopped"
    assert saved(stack, "alpha", start) == 0
