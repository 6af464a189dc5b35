"""Savings against the emulator's ground truth: what the governor's stops and refusals avoided."""

from dataclasses import replace
from datetime import timedelta

from governor.model import LedgerState, Period, cost_of
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
