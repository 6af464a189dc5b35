"""A repeat of an Idempotency-Key request while the first is still at work (the IETF draft): 409
with Retry-After, no second create; once the first has answered or died, a repeat resumes it."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from governor.bootstrap import Context, get_context, set_context
from governor.core.policy.gate import IN_FLIGHT_WINDOW, session_id_for
from tests.integration.gate.test_faults import ONLY_SESSION_PATH, open_entries, reserved


def wait_for_row(gate, project: str, key: str, timeout: float = 10.0):
    """The first request's pending row, once it has reserved (an event, not a sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entry = gate.store.get_entry(project, session_id_for(project, key))
        if entry is not None:
            return entry
        time.sleep(0.01)
    raise AssertionError(f"no row for {key} within {timeout} s")


def test_a_repeat_while_the_first_is_inside_its_create_is_a_409_and_sends_no_create(gate):
    key = gate.project()
    # the first create is held 2 s on its way to ARR, before it takes effect
    gate.emulator.set_faults(
        sequence=[{"status": None, "phase": "before", "latencyMs": 2000}], paths=ONLY_SESSION_PATH, methods=["PUT"]
    )
    headers = {"Idempotency-Key": "slow-1"}
    first: list = []
    worker = threading.Thread(target=lambda: first.append(gate.create("alpha", key, headers=headers)))
    worker.start()
    try:
        assert wait_for_row(gate, "alpha", "slow-1").state.value == "pending"
        repeat = gate.create("alpha", key, headers=headers)
        assert (repeat.status, repeat.reason) == (409, "conflict"), repeat.body
        assert int(repeat.headers["Retry-After"]) >= 1 and "in progress" in repeat.body["detail"]
        assert gate.emulator.truth() == []  # the repeat created nothing beside the first
    finally:
        worker.join()
    assert first[0].status == 202, first[0].body
    again = gate.create("alpha", key, headers=headers)
    assert (again.status, again.body["sessionId"], again.body["replayed"]) == (202, first[0].body["sessionId"], True)
    assert len(gate.emulator.truth()) == 1 and reserved(gate) == 6_000_000


class Dies(BaseException):
    """The gate's process going away mid-request (nothing in the gate catches it)."""


class DiesBeforeCreate:
    def __init__(self, client):
        self.client = client

    def __getattr__(self, name):
        return getattr(self.client, name)

    def create(self, *args, **kwargs):
        raise Dies()


def dies_before_create(gate, key: str, headers: dict) -> Context:
    """A gate that dies between its reservation and ARR's create; returns the context it ran in."""
    real = get_context()
    set_context(Context(real.settings, real.store, {a: DiesBeforeCreate(c) for a, c in real.arr.items()}, real.clock))
    try:
        with pytest.raises(Dies):
            gate.create("alpha", key, headers=headers)
    finally:
        set_context(real)
    return real


def with_clock_ahead(real: Context, ahead: timedelta) -> None:
    set_context(Context(real.settings, real.store, real.arr, lambda: real.clock() + ahead))


def test_a_request_that_died_before_its_create_is_resumed_by_a_repeat_once_the_window_has_passed(gate):
    key = gate.project()
    headers = {"Idempotency-Key": "dies-1"}
    real = dies_before_create(gate, key, headers)
    [pending] = open_entries(gate)
    assert pending.state.value == "pending" and pending.working_since is not None
    early = gate.create("alpha", key, headers=headers)
    assert (early.status, early.reason) == (409, "conflict"), early.body  # cannot be told from one at work
    assert gate.emulator.truth() == []
    with_clock_ahead(real, IN_FLIGHT_WINDOW + timedelta(seconds=1))
    late = gate.create("alpha", key, headers=headers)
    assert (late.status, late.body["sessionId"], late.body["replayed"]) == (202, pending.session_id, True)
    assert [s["id"] for s in gate.open_sessions_in_arr()] == [pending.session_id]
    assert reserved(gate) == 6_000_000  # the same reservation, not a second one


def test_of_two_repeats_taking_over_one_row_only_one_wins(gate):
    """The ETag condition of the take-over, at the store: the loser sees None and answers 409."""
    from datetime import UTC, datetime

    key = gate.project()
    dies_before_create(gate, key, {"Idempotency-Key": "dies-2"})
    [row] = open_entries(gate)
    now = datetime.now(UTC)
    won = gate.store.mark_working("alpha", row.session_id, now, etag=row.etag)
    assert won is not None and won.working_since == now and won.etag != row.etag
    assert gate.store.mark_working("alpha", row.session_id, now, etag=row.etag) is None
    answered = gate.store.mark_working("alpha", row.session_id, None)
    assert answered is not None and gate.store.get_entry("alpha", row.session_id).working_since is None
    assert reserved(gate) == 6_000_000  # marks are not money
