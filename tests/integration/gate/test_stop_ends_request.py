"""A caller's stop ends its request: after a DELETE no poll, no sweep and no retry with the request's
Idempotency-Key starts another attempt, even when ARR had already ended the attempt for want of
capacity (which, unstopped, autoRetry or a keyed retry follows with the next one).

Found in review: the stop closed the failed attempt as `Error` like any capacity failure, so the
app's next poll started a new paid attempt in the next region.
"""

from __future__ import annotations

import pytest

from governor.bootstrap import get_context
from governor.core.model import LedgerState, Period, SessionStatus, utcnow
from governor.service.sweep import Sweeper
from tests.fixtures.regions import servers, sessions_by_account
from tests.integration.gate.conftest import Gate
from tests.integration.gate.test_audit_intent import STOP_PATH
from tests.integration.gate.test_placement import AUTO, LEASE, STARTUP, poll_until_settled, project


@pytest.fixture
def gate(regions_env, store, regions_emulator) -> Gate:
    return Gate(store, regions_emulator)


def only_row(gate: Gate):
    """The request's one ledger row: no next attempt was reserved."""
    (entry,) = gate.store.list_entries("alpha", include_closed=True)
    return entry


def held(gate: Gate) -> int:
    return gate.store.usage("alpha", Period.DAY, Period.DAY.key(utcnow())).reserved


def assert_ended(gate: Gate, key: str, sid: str) -> None:
    """ARR runs nothing, the one row is closed at ARR's billed minutes (0), and a poll says so."""
    assert sessions_by_account(gate.emulator) == {}
    entry = only_row(gate)
    assert (entry.session_id, entry.state, entry.final_status) == (sid, LedgerState.CLOSED, SessionStatus.ERROR)
    assert entry.charged == 0 and held(gate) == 0
    poll = gate.get("alpha", key, sid)
    assert (poll.status, poll.body["sessionId"], poll.body["status"]) == (200, sid, "Error"), poll.body
    assert poll.body["error"]["code"] == "capacity" and "retry" not in poll.body
    assert sessions_by_account(gate.emulator) == {} and only_row(gate).session_id == sid  # the poll started none


def test_a_poll_after_the_stop_starts_no_next_attempt(gate):
    servers(gate.emulator, default=0, westeurope=2, japaneast=2)
    key = project(gate)
    sid = gate.create("alpha", key, AUTO).body["sessionId"]
    gate.emulator.advance(STARTUP)  # ARR ended it in Error: no server in default

    stop = gate.stop("alpha", key, sid)
    assert (stop.status, stop.body["sessionId"], stop.body["status"]) == (200, sid, "Error"), stop.body
    assert_ended(gate, key, sid)
    gate.emulator.advance(STARTUP)
    assert_ended(gate, key, sid)  # and the next poll, again
    stops = [r for r in gate.store.recent_audit(limit=50) if r.action == "stop"]
    assert [(r.source, r.reason, r.outcome) for r in stops] == [("gate", "caller", "ok")]


def test_the_sweep_starts_no_next_attempt_of_a_request_whose_stop_arr_did_not_answer(gate):
    servers(gate.emulator, default=0, westeurope=2, japaneast=2)
    key = project(gate)
    sid = gate.create("alpha", key, AUTO).body["sessionId"]
    gate.settle()
    gate.emulator.advance(STARTUP)
    gate.emulator.set_faults(rate=1, statuses=[503], retryAfter=0, paths=STOP_PATH)
    assert gate.stop("alpha", key, sid).status == 503  # the row stays open for the sweep
    gate.emulator.clear_faults()

    report = Sweeper.from_context(get_context(), dry_run=False).run()
    assert report["outcome"] == "ok" and report["counts"] == {"close": 1}, report
    assert set(gate.store.capacity_failures("alpha")) == {("default", only_row(gate).size)}  # still remembered
    assert_ended(gate, key, sid)


def test_a_retry_with_the_key_after_the_stop_gets_the_stopped_attempt_not_a_new_one(gate):
    servers(gate.emulator, default=0, westeurope=2, japaneast=2)
    key = project(gate)
    body, headers = {"size": "Standard", "maxLeaseTime": LEASE}, {"Idempotency-Key": "order-1"}
    sid = gate.create("alpha", key, body, headers=headers).body["sessionId"]
    (failed,) = poll_until_settled(gate, "alpha", key, [sid])
    assert failed["retry"]["next"] == {"account": "westeurope", "size": "Standard"}  # offered until the stop

    stop = gate.stop("alpha", key, sid)  # the row is closed already: the stop only ends the request
    assert (stop.status, stop.body["status"]) == (200, "Error"), stop.body
    retry = gate.create("alpha", key, body, headers=headers)
    assert (retry.status, retry.body["sessionId"], retry.body["status"]) == (202, sid, "Error"), retry.body
    assert retry.body["replayed"] is True
    assert_ended(gate, key, sid)


def died_stopping(gate: Gate, idempotency_key: str, phase: str) -> tuple[str, str, dict, dict]:
    """A keyed request whose create ARR answered 503 (`phase` before or after ARR acted), left
    pending, then a stop that marked it and died before anything else; its first request answered."""
    key = project(gate)
    body, headers = {"size": "Standard", "maxLeaseTime": LEASE}, {"Idempotency-Key": idempotency_key}
    gate.emulator.set_faults(rate=1, statuses=[503], retryAfter=0, paths=r"/sessions/[^/:]+$", phase=phase)
    first = gate.create("alpha", key, body, headers=headers)
    assert (first.status, first.reason) == (503, "upstream-unavailable"), first.body
    sid = first.body["sessionId"]
    gate.emulator.clear_faults()
    made = [s["status"] for s in gate.emulator.truth() if s["id"] == sid]
    assert made == ([] if phase == "before" else ["Starting"]), made
    gate.store.stop_request("alpha", sid)  # what the stop wrote before it died
    gate.store.mark_working("alpha", sid, None)  # the first request has answered
    return key, sid, body, headers


def test_a_retry_with_the_key_after_a_stop_that_died_before_giving_the_row_back_starts_nothing(gate):
    """The stop marked the pending attempt (its create had failed before ARR acted) and its gate
    died before asking ARR and giving the row back: a retry with the key gives it back, and starts
    no session for a request its caller stopped."""
    key, sid, body, headers = died_stopping(gate, "order-2", phase="before")

    retry = gate.create("alpha", key, body, headers=headers)
    assert retry.status == 202 and retry.body["sessionId"] == sid and retry.body["replayed"] is True, retry.body
    assert retry.body["status"] == "Stopped", retry.body
    assert gate.emulator.truth() == []  # ARR was never asked
    entry = only_row(gate)
    assert entry.released and held(gate) == 0


def test_a_retry_with_the_key_after_a_stop_that_died_before_asking_arr_finishes_the_stop(gate):
    """The stop marked the pending attempt ARR had made (the create's answer was lost) and its gate
    died before asking ARR: a retry with the key stops it at ARR and charges ARR's minutes, rather
    than replay a running session its caller stopped."""
    key, sid, body, headers = died_stopping(gate, "order-5", phase="after")

    retry = gate.create("alpha", key, body, headers=headers)
    assert retry.status == 202 and retry.body["sessionId"] == sid and retry.body["replayed"] is True, retry.body
    assert retry.body["status"] == "Stopped", retry.body
    assert sessions_by_account(gate.emulator) == {}
    entry = only_row(gate)
    assert entry.state is LedgerState.CLOSED and held(gate) == 0
    stops = [r for r in gate.store.recent_audit(limit=50) if r.action == "stop"]
    assert [(r.source, r.reason) for r in stops] == [("gate", "caller")]
