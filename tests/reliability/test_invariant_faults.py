"""The money invariant under ARR's real failure modes: every fault mix x phase x API generation.

ARR answers the session create with {500, 503, 429, 500 then 429, a timeout} before or after it
took effect, for 2021-01-01 (our ids) and v1 (ARR's ids). Clients ask for sessions, one with an
Idempotency-Key that it retries once ARR is well. After at most two sweeps: no ARR session runs
without an open ledger row (nothing here is created outside the governor), ARR's billed minutes
equal the ledger's charge within one sweep interval, the retry got one session (never a 409), and
the money held is exactly the open rows' reservations.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.reliability.governed import TIMEOUT_LATENCY_MS, Governed

INTERVAL = timedelta(minutes=2)
REQUESTS = 3
THROTTLED = {"status": 429, "phase": "before"}
FAULT_MIXES = {
    "500": lambda phase: {"rate": 1, "statuses": [500], "phase": phase},
    "503": lambda phase: {"rate": 1, "statuses": [503], "phase": phase},
    "429": lambda phase: {"rate": 1, "statuses": [429], "phase": phase},
    # the answer is lost (or refused before effect), then every retry is throttled before effect
    "500-then-429": lambda phase: {"sequence": [{"status": 500, "phase": phase}] + [THROTTLED] * 30},
    # ARR answers after the client gave up: acted (after) or not (before), then a 503 nobody reads
    "timeout": lambda phase: {"rate": 1, "statuses": [503], "phase": phase, "latencyMs": TIMEOUT_LATENCY_MS},
}


@pytest.fixture(params=["2021-01-01", "v1"])
def governed(request, sweep_stack):
    governed = Governed.build(sweep_stack, request.param)
    yield governed
    governed.close()


@pytest.mark.parametrize("phase", ["before", "after"])
@pytest.mark.parametrize("mix", list(FAULT_MIXES))
def test_no_session_runs_unbudgeted_whatever_arr_answers(governed, mix, phase):
    stack, gate = governed.stack, governed.gate
    key = governed.project("alpha", daily_budget=None, monthly_budget=1000 * 6_000_000, max_concurrent=50)
    stack.sweep()
    governed.create_faults(**FAULT_MIXES[mix](phase), retryAfter=0)
    replies = [gate.create("alpha", key) for _ in range(REQUESTS)]
    keyed = gate.create("alpha", key, headers={"Idempotency-Key": f"order-{mix}-{phase}"})
    for reply in [*replies, keyed]:
        assert reply.status == 202 or (reply.status, reply.reason) == (503, "upstream-unavailable"), reply
    stack.emulator.clear_faults()

    retry = gate.create("alpha", key, headers={"Idempotency-Key": f"order-{mix}-{phase}"})
    assert retry.status == 202, retry  # the first request's session, or a fresh attempt: never a 409
    if keyed.status == 202:
        assert retry.body["sessionId"] == keyed.body["sessionId"]
    stack.advance(INTERVAL.total_seconds())
    stack.sweep()
    stack.advance(INTERVAL.total_seconds())
    stack.sweep()

    assert governed.violations() == []
    assert governed.money_gaps(INTERVAL) == []
    assert governed.reserved_matches_rows() == []
    running = {s["id"] for s in stack.emulator.truth() if s["status"] in ("Starting", "Ready")}
    assert retry.body["sessionId"] in running
    admitted = {r.body["sessionId"] for r in [*replies, retry] if r.status == 202}
    assert admitted <= running  # what the gate answered 202 for runs, charged


def test_a_retry_with_the_key_of_a_request_that_succeeded_gets_its_session(governed):
    key = governed.project("alpha")
    first = governed.gate.create("alpha", key, headers={"Idempotency-Key": "once"})
    again = governed.gate.create("alpha", key, headers={"Idempotency-Key": "once"})
    assert first.status == again.status == 202
    assert (again.body["sessionId"], again.body["replayed"]) == (first.body["sessionId"], True)
    assert len(governed.gate.open_sessions_in_arr()) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_a_create_that_succeeds_on_a_retry_after_an_attempt_that_acted_leaves_no_stray(governed, status):
    stack, gate = governed.stack, governed.gate
    key = governed.project("alpha", daily_budget=None, monthly_budget=1000 * 6_000_000, max_concurrent=50)
    governed.create_faults(sequence=[{"status": status, "phase": "after"}], retryAfter=0)
    reply = gate.create("alpha", key)
    assert reply.status == 202, reply
    made = {s["id"] for s in stack.emulator.truth()}
    assert len(made) == (2 if governed.api_version == "v1" else 1)  # v1's POST made one per attempt
    stack.advance(INTERVAL.total_seconds())
    stack.sweep()
    assert governed.violations() == []
    running = {s["id"] for s in stack.emulator.truth() if s["status"] in ("Starting", "Ready")}
    assert running == {reply.body["sessionId"]}
    assert governed.money_gaps(INTERVAL) == [] and governed.reserved_matches_rows() == []
