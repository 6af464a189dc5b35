"""Sweeps while ARR fails 30% of calls (429/500/503, before or after taking effect) and is slow.

tests/integration/sweep/test_faults.py runs 20 sweeps of errors that never take effect; this runs
25 (make test) and 100 (make soak), adds latency, and half of the time lets the call take effect
before the error comes back (ARR did it, the governor did not hear so). Checked after every
sweep: nobody heartbeating is stopped and no lease lapses under them. At the end: idle sessions
were stopped, and never early; every failed action was retried until it succeeded; the audit
shows every failure with its error; the money equals ARR's billed minutes.
"""

from datetime import timedelta

import pytest

from governor.arr import clients_from_settings
from governor.core.model import LedgerState, Period, cost_of
from governor.settings import load
from tests.integration.sweep.conftest import RATE, parse_time

FAST_SWEEPS = 25
SOAK_SWEEPS = 100
STEP_SECONDS = 60
IDLE_TIMEOUT = timedelta(minutes=15)
FAULTS = {"rate": 0.3, "statuses": [429, 500, 503], "retryAfter": 0, "latencyMs": 15}
# Sweeps where every call on one session fails (list calls do not), so that failed actions are
# certain, not likely: at 16 minutes the idle sessions are due a stop (failed after ARR stopped
# them); at 20 the heartbeating ones an extension (failed after ARR extended them), and at 21
# whatever the sweep does about that fails before it takes effect.
BURSTS = {15: "after", 19: "after", 20: "before"}
SESSION_CALLS = "/sessions/[^/?]+"


def test_faulty_sweeps_stop_nobody_wrongly_and_retry_every_failure(sweep_stack):
    faulty_sweeps(sweep_stack, FAST_SWEEPS)


@pytest.mark.slow
def test_a_hundred_faulty_sweeps_stop_nobody_wrongly_and_retry_every_failure(sweep_stack):
    faulty_sweeps(sweep_stack, SOAK_SWEEPS)


def faulty_sweeps(stack, sweeps: int) -> None:
    policy = stack.project("alpha", hard_max_duration=timedelta(hours=8), idle_timeout=IDLE_TIMEOUT)
    beating = [stack.admit(policy, 30) for _ in range(3)]
    idle = [stack.admit(policy, 60) for _ in range(2)]
    admitted_at = stack.now
    stack.advance(5)  # past the emulator's start-up: every session is Ready
    # a short retry budget, so that some failures outlast the client's retries and reach the sweep
    stack.arr = clients_from_settings(load({**stack.env, "ARR_RETRY_TOTAL_SECONDS": "0.05"}))

    for sweep in range(sweeps):
        if sweep in BURSTS:
            stack.emulator.set_faults(**FAULTS | {"rate": 1.0}, paths=SESSION_CALLS, phase=BURSTS[sweep])
        else:
            stack.emulator.set_faults(**FAULTS, phase="after" if sweep % 10 >= 5 else "before")
        stack.advance(STEP_SECONDS)
        for sid in beating:
            stack.heartbeat("alpha", sid)
        stack.sweep()
        truth = stack.truth()
        for sid in beating:
            assert truth[sid]["status"] == "Ready", (sweep, sid, truth[sid])
            assert truth[sid]["maxLeaseMinutes"] * 60 > truth[sid]["billedSeconds"], (sweep, truth[sid])
    stack.emulator.clear_faults()
    stack.advance(STEP_SECONDS)
    for sid in beating:
        stack.heartbeat("alpha", sid)
    stack.sweep()

    truth = stack.truth()
    assert all(truth[sid]["status"] == "Stopped" for sid in idle), [truth[s] for s in idle]
    rows = [r for r in stack.audit() if r.source == "sweep"]
    for row in rows:
        if row.action == "stop" and row.outcome == "ok":
            assert row.session_id in idle and row.at - admitted_at >= IDLE_TIMEOUT, row
    failed = [r for r in rows if r.outcome == "failed"]
    assert failed, f"30% faults over {sweeps} sweeps and not one failed action: the faults did not reach the sweep"
    assert all(r.figures.get("error") for r in failed), failed
    assert {r.action for r in failed} >= {"stop", "extend"}, failed
    for row in failed:  # retried until it succeeded (a stop ARR did despite the error is then closed)
        done = {row.action} | ({"close"} if row.action == "stop" else set())
        later = [(r.action, r.outcome) for r in rows if r.session_id == row.session_id and r.at > row.at]
        assert any(action in done and outcome == "ok" for action, outcome in later), (row, later)
    assert sum(len(report["errors"]) for report in stack.sweeps) > 0

    for sid in beating:
        entry = stack.store.get_entry("alpha", sid)
        assert entry.lease.total_seconds() // 60 == truth[sid]["maxLeaseMinutes"], (entry, truth[sid])
        stack.arr["default"].stop(sid)
    stack.advance(STEP_SECONDS)
    stack.sweep()
    truth = stack.truth()
    for sid in beating + idle:
        entry = stack.store.get_entry("alpha", sid)
        assert entry.state is LedgerState.CLOSED
        assert entry.charged_minutes == int(truth[sid]["billedSeconds"] // 60), (entry, truth[sid])
    expected = sum(cost_of(RATE, int(truth[sid]["billedSeconds"] // 60)) for sid in beating + idle)
    usage = stack.store.usage("alpha", Period.MONTH, Period.MONTH.key(parse_time(stack.emulator.now())))
    assert (usage.spent, usage.reserved) == (expected, 0)
