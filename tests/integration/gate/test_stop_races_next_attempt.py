"""A caller's stop racing the start of its request's next attempt (autoRetry after ARR ended the
last one for want of capacity) leaves nothing running, whichever lands first. The poll that starts
the attempt reads the request's stop mark after reserving it (`placement.abandoned`), and again
after ARR made it; the stop looks for a next attempt after writing its mark. Each test forces one
interleaving by running the other request inside a store call of the first (one thread, so the
order is exact), as another instance would (its own store: no cache of the first's), against
Azurite and the regions emulator.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from governor.bootstrap import get_context, set_context
from governor.core.model import LedgerState, Period, utcnow
from governor.store import TableStore
from tests.fixtures.regions import servers, sessions_by_account
from tests.integration.gate.conftest import Gate
from tests.integration.gate.test_placement import AUTO, STARTUP, project


@pytest.fixture
def gate(regions_env, store, regions_emulator) -> Gate:
    return Gate(store, regions_emulator)


@pytest.fixture
def elsewhere(azurite, table_prefix):
    """Run a gate call as another instance: its own store over the same tables."""
    other = TableStore(azurite.connection_string, table_prefix)

    def run(call):
        here = get_context()
        set_context(replace(here, store=other))
        try:
            return call()
        finally:
            set_context(here)

    return run


@pytest.fixture
def failed(gate):
    """A request with autoRetry whose first attempt ARR ended for want of capacity (not yet polled)."""
    servers(gate.emulator, default=0, westeurope=2, japaneast=2)
    key = project(gate)
    sid = gate.create("alpha", key, AUTO).body["sessionId"]
    gate.emulator.advance(STARTUP)
    return key, sid


def hook(name: str, before=None, after=None):
    """Run `before(*args)` / `after(*args)` around the context store's `name` for a next attempt's
    row (any id but the polled one's); once."""
    store = get_context().store
    real, done = getattr(store, name), []

    def hooked(project, first, *args, **kw):
        sid = getattr(first, "session_id", first)
        if done or not isinstance(sid, str):
            return real(project, first, *args, **kw)
        done.append(sid)
        if before:
            before(sid)
        result = real(project, first, *args, **kw)
        if after:
            after(sid)
        return result

    setattr(store, name, hooked)
    return done


def assert_nothing_runs(gate: Gate, key: str, sid: str) -> None:
    """ARR runs nothing, no row is open, no money is held: the request ended with its first attempt."""
    assert sessions_by_account(gate.emulator) == {}
    rows = gate.store.list_entries("alpha", include_closed=True)
    assert all(e.state is LedgerState.CLOSED for e in rows), rows
    assert gate.store.usage("alpha", Period.DAY, Period.DAY.key(utcnow())).reserved == 0
    gate.emulator.advance(STARTUP)
    assert gate.get("alpha", key, sid).status == 200
    assert sessions_by_account(gate.emulator) == {}  # and a later poll starts none


def test_a_stop_landing_before_the_next_attempt_is_reserved(gate, failed, elsewhere):
    """The stop marked the request and found no next attempt; the poll then reserved one."""
    key, sid = failed
    stops = []
    done = hook("reserve", before=lambda _: stops.append(elsewhere(lambda: gate.stop("alpha", key, sid))))
    poll = gate.get("alpha", key, sid)
    assert done and stops and stops[0].status == 200, (done, stops)
    assert poll.status == 200 and poll.body["status"] == "Error", poll.body
    (next_row,) = [e for e in gate.store.list_entries("alpha", include_closed=True) if e.session_id != sid]
    assert next_row.session_id == done[0] and next_row.released  # reserved, given back, never asked of ARR
    assert all(s["id"] != done[0] for s in gate.emulator.truth())
    assert_nothing_runs(gate, key, sid)


def test_a_stop_landing_after_the_next_attempt_is_reserved_before_arr_made_it(gate, failed, elsewhere):
    """The stop found the reserved attempt before ARR had it and gave its row back; the poll then
    had ARR make it, and ends it on seeing the mark."""
    key, sid = failed
    stops = []
    done = hook("reserve", after=lambda _: stops.append(elsewhere(lambda: gate.stop("alpha", key, sid))))
    gate.get("alpha", key, sid)
    assert done and stops and stops[0].status == 200, (done, stops)
    made = [s for s in gate.emulator.truth() if s["id"] == done[0]]
    assert [s["status"] for s in made] == ["Stopped"]  # ARR made it, and the poll stopped it at once
    assert_nothing_runs(gate, key, sid)


def test_a_poll_starting_the_next_attempt_while_the_stop_writes_its_mark(gate, failed, elsewhere):
    """The stop resolved the request to its failed attempt; before its mark landed, a poll started
    the next one in full (ARR runs it). The stop, looking after its mark, stops that one too."""
    key, sid = failed
    polls = []
    done = hook("stop_request", before=lambda _: polls.append(elsewhere(lambda: gate.get("alpha", key, sid))))
    stop = gate.stop("alpha", key, sid)
    assert done == [sid] and polls and polls[0].status == 200, (done, polls)
    started = polls[0].body["sessionId"]
    assert started != sid and polls[0].body["status"] == "Starting", polls[0].body  # the poll did start it
    assert stop.status == 200 and stop.body["sessionId"] == started, stop.body
    assert [s["status"] for s in gate.emulator.truth() if s["id"] == started] == ["Stopped"]
    assert_nothing_runs(gate, key, sid)


def keyed_failure(gate: Gate, idempotency_key: str) -> tuple[str, str, dict, dict]:
    """A request with an Idempotency-Key whose first attempt ARR ended for want of capacity, settled
    by a poll: a retry with the key starts the next attempt."""
    servers(gate.emulator, default=0, westeurope=2, japaneast=2)
    key = project(gate)
    body, headers = {"size": "Standard", "maxLeaseTime": 60}, {"Idempotency-Key": idempotency_key}
    sid = gate.create("alpha", key, body, headers=headers).body["sessionId"]
    gate.emulator.advance(STARTUP)
    assert gate.get("alpha", key, sid).body["status"] == "Error"
    return key, sid, body, headers


def test_a_retry_with_the_key_racing_the_stop_starts_nothing(gate, elsewhere):
    """A retry with the request's Idempotency-Key read its failed attempt before the stop marked
    it, and reserved the next; it gives that back and answers 409, and its next retry gets the
    stopped attempt."""
    key, sid, body, headers = keyed_failure(gate, "order-1")
    stops = []
    done = hook("reserve", before=lambda _: stops.append(elsewhere(lambda: gate.stop("alpha", key, sid))))
    retry = gate.create("alpha", key, body, headers=headers)
    assert done and stops and stops[0].status == 200, (done, stops)
    assert (retry.status, retry.reason) == (409, "conflict"), retry.body
    again = gate.create("alpha", key, body, headers=headers)
    assert (again.status, again.body["sessionId"], again.body["status"]) == (202, sid, "Error"), again.body
    assert all(s["id"] != done[0] for s in gate.emulator.truth())
    assert_nothing_runs(gate, key, sid)


def test_a_stop_finding_a_retry_s_attempt_before_arr_made_it_leaves_nothing_running(gate, elsewhere):
    """A retry with the request's Idempotency-Key reserved the next attempt; the stop then resolved
    the request to that attempt (not yet in ARR), marked it and gave its row back. The retry had read
    the failed attempt unmarked, so it still has ARR make its attempt: on seeing the mark afterwards
    it ends it, and its next retry gets the stopped request."""
    key, sid, body, headers = keyed_failure(gate, "order-3")
    stops = []
    done = hook("reserve", after=lambda _: stops.append(elsewhere(lambda: gate.stop("alpha", key, sid))))
    retry = gate.create("alpha", key, body, headers=headers)
    assert done and stops and stops[0].status == 200, (done, stops)
    assert stops[0].body["sessionId"] == done[0], stops[0].body  # the stop acted on the retry's attempt
    assert (retry.status, retry.reason) == (409, "conflict"), retry.body
    assert [s["status"] for s in gate.emulator.truth() if s["id"] == done[0]] in ([], ["Stopped"])
    again = gate.create("alpha", key, body, headers=headers)
    assert again.status == 202 and again.body["sessionId"] == done[0], again.body
    assert again.body["status"] == "Stopped", again.body
    assert_nothing_runs(gate, key, sid)


def test_a_stop_racing_a_retry_that_takes_over_a_pending_attempt_leaves_nothing_running(gate, elsewhere):
    """The first request answered 503 naming its session (ARR could not say whether it made it); a
    retry with the key takes the pending row over, and the caller's stop of that id lands before the
    retry's create reaches ARR: it marks the row and gives it back. The retry, seeing the mark after
    ARR made the session, ends it."""
    key = project(gate)
    body, headers = {"size": "Standard", "maxLeaseTime": 60}, {"Idempotency-Key": "order-4"}
    gate.emulator.set_faults(rate=1, statuses=[503], retryAfter=0, paths=r"/sessions/[^/:]+$", phase="before")
    first = gate.create("alpha", key, body, headers=headers)
    assert (first.status, first.reason) == (503, "upstream-unavailable"), first.body
    sid = first.body["sessionId"]
    gate.emulator.clear_faults()
    stops = []
    done = hook("mark_working", after=lambda _: stops.append(elsewhere(lambda: gate.stop("alpha", key, sid))))
    retry = gate.create("alpha", key, body, headers=headers)
    assert done == [sid] and stops and stops[0].status == 200, (done, stops)
    assert (retry.status, retry.reason) == (409, "conflict"), retry.body
    again = gate.create("alpha", key, body, headers=headers)
    assert again.status == 202 and again.body["sessionId"] == sid and again.body["status"] == "Stopped", again.body
    assert sessions_by_account(gate.emulator) == {}
    rows = gate.store.list_entries("alpha", include_closed=True)
    assert [(e.session_id, e.state) for e in rows] == [(sid, LedgerState.CLOSED)], rows
    assert gate.store.usage("alpha", Period.DAY, Period.DAY.key(utcnow())).reserved == 0
