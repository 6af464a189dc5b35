"""`with client.session(...)` against a scripted gate: heartbeats at the cadence, extends when the
gate suggests it, and always stops: on a normal exit, on an exception, on Ctrl-C, on a failed start."""

from __future__ import annotations

import signal
import time

import pytest
from governor_client import GovernorError, ReadyTimeout
from governor_client.session import DEFAULT_HEARTBEAT_SECONDS

from tests.clients.scripted_gate import Reply, problem

SESSIONS = "/projects/demo/sessions"
SESSION = SESSIONS + "/s-1"
HEARTBEAT = SESSION + "/heartbeat"
READY = {"sessionId": "s-1", "status": "Ready", "state": "active", "leaseMinutes": 30, "hostname": "h.example"}
CLOSED = {**READY, "status": "Stopped", "state": "closed"}
QUIET = {"wouldGrant": True, "suggest": False, "leaseMinutes": 60, "extraCost": "1.500000", "partial": False}


def beat(extension=None, **view) -> Reply:
    return Reply(200, {**READY, **view, "extension": extension or QUIET})


def started(scripted, *heartbeats: Reply) -> None:
    scripted.script("POST", SESSIONS, Reply(202, READY))  # Ready at once: no 5 s poll in these tests
    scripted.script("POST", HEARTBEAT, *(heartbeats or [beat()]))
    scripted.script("DELETE", SESSION, Reply(200, CLOSED))


def wait_until(predicate, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_heartbeats_at_the_cadence_then_stops_on_exit(client, scripted):
    started(scripted)
    with client.session("Standard", 30, heartbeat_seconds=1) as s:
        assert s.session_id == "s-1" and s.view["status"] == "Ready"
        wait_until(lambda: len(scripted.requests("POST", HEARTBEAT)) >= 3)
    gaps = scripted.gaps("POST", HEARTBEAT)
    assert all(0.9 <= gap < 2.0 for gap in gaps[:2])
    methods = [(r.method, r.path.removeprefix("/api")) for r in scripted.requests()]
    assert methods[0] == ("POST", SESSIONS) and methods[-1] == ("DELETE", SESSION)
    assert s.view == CLOSED
    assert not any(r.path.endswith("/heartbeat") and r.at > scripted.requests("DELETE")[0].at for r in scripted.seen)


def test_the_cadence_comes_from_the_gate_else_a_minute(client, scripted):
    started(scripted)
    scripted.replies[("POST", "/api" + SESSIONS)].clear()
    scripted.script("POST", SESSIONS, Reply(202, {**READY, "heartbeatIntervalSeconds": 1}))
    with client.session("Standard", 30) as s:
        assert s.heartbeat_seconds == 1
        wait_until(lambda: len(scripted.requests("POST", HEARTBEAT)) >= 2)
    assert client.session("Standard", 30).heartbeat_seconds == DEFAULT_HEARTBEAT_SECONDS == 60


def test_extends_to_the_suggested_total_when_the_gate_suggests_it(client, scripted):
    suggest = {**QUIET, "suggest": True, "leaseMinutes": 60}
    started(scripted, beat(suggest), beat(QUIET, leaseMinutes=60))
    scripted.script("PATCH", SESSION, Reply(200, {**READY, "leaseMinutes": 60, "partial": False}))
    with client.session("Standard", 30, heartbeat_seconds=1) as s:
        wait_until(lambda: len(scripted.requests("POST", HEARTBEAT)) >= 3)
    (patch,) = scripted.requests("PATCH", SESSION)
    assert patch.body == {"maxLeaseTime": 60}  # the total: a repeat extends nothing twice
    assert [e["leaseMinutes"] for e in s.extensions] == [60] and s.heartbeat_error is None


def test_no_extension_when_it_would_not_be_granted_or_is_not_wanted(client, scripted):
    refused = {"wouldGrant": False, "reason": "budget-exhausted", "detail": "no money", "suggest": False}
    started(scripted, beat({**QUIET, "suggest": True}), beat(refused))
    with client.session("Standard", 30, heartbeat_seconds=1, auto_extend=False):
        wait_until(lambda: len(scripted.requests("POST", HEARTBEAT)) >= 2)
    assert scripted.requests("PATCH") == []


def test_an_extension_that_already_landed_is_no_error(client, scripted):
    started(scripted, beat({**QUIET, "suggest": True}))
    covered = problem(409, "extension-denied", "the lease already covers it", limit="lease-covers")
    scripted.script("PATCH", SESSION, problem(503, "upstream-unavailable", "lost", retry_after=0), covered)
    with client.session("Standard", 30, heartbeat_seconds=1) as s:
        wait_until(lambda: len(scripted.requests("PATCH")) >= 2)
        time.sleep(0.2)
        assert s.heartbeat_error is None


def test_a_heartbeat_that_finds_the_session_closed_ends_the_beat(client, scripted):
    started(scripted, problem(404, "not-found", "no open session s-1"))
    with client.session("Standard", 30, heartbeat_seconds=1) as s:
        assert s.ended.wait(5)
        time.sleep(1.5)
        assert len(scripted.requests("POST", HEARTBEAT)) == 1
        assert s.heartbeat_error.reason == "not-found"
    assert len(scripted.requests("DELETE")) == 1  # stopping a closed session is harmless


def test_a_failed_heartbeat_beats_again(client, scripted):
    started(scripted, problem(503, "upstream-unavailable", "x", retry_after=30), beat())
    with client.session("Standard", 30, heartbeat_seconds=1) as s:
        wait_until(lambda: s.heartbeat_error is not None)  # 30 s is over max_wait: given up at once
        wait_until(lambda: len(scripted.requests("POST", HEARTBEAT)) >= 2)
        assert not s.ended.is_set()


def test_an_exception_in_the_block_stops_the_session_and_propagates(client, scripted):
    started(scripted)
    with pytest.raises(ZeroDivisionError), client.session("Standard", 30, heartbeat_seconds=1):
        1 / 0  # noqa: B018
    assert len(scripted.requests("DELETE", SESSION)) == 1


@pytest.fixture
def interactive():
    """SIGINT as an interactive Python has it: a suite started in the background by a shell without
    job control inherits it ignored (bash does that to `&` jobs), and then Ctrl-C raises nothing."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_stops_the_session_and_propagates(client, scripted, interactive):
    started(scripted)
    with pytest.raises(KeyboardInterrupt), client.session("Standard", 30, heartbeat_seconds=1):
        signal.raise_signal(signal.SIGINT)  # what Ctrl-C does: KeyboardInterrupt in the main thread
    assert len(scripted.requests("DELETE", SESSION)) == 1


def test_a_session_that_never_gets_ready_is_stopped(client, scripted):
    scripted.script("POST", SESSIONS, Reply(202, {**READY, "status": "Starting"}))
    scripted.script("DELETE", SESSION, Reply(200, CLOSED))
    with pytest.raises(ReadyTimeout), client.session("Standard", 30, ready_timeout=2):
        pytest.fail("the block must not run")
    assert len(scripted.requests("DELETE", SESSION)) == 1


def test_a_failing_stop_does_not_hide_the_failure_of_the_block(client, scripted):
    started(scripted)
    scripted.replies[("DELETE", "/api" + SESSION)].clear()
    scripted.script("DELETE", SESSION, problem(403, "forbidden", "key revoked"))
    with pytest.raises(ZeroDivisionError) as raised, client.session("Standard", 30, heartbeat_seconds=1):
        1 / 0  # noqa: B018
    assert any("stopping session s-1 failed too" in note for note in raised.value.__notes__)


def test_a_failing_stop_after_a_clean_block_is_raised(client, scripted):
    started(scripted)
    scripted.replies[("DELETE", "/api" + SESSION)].clear()
    scripted.script("DELETE", SESSION, problem(403, "forbidden", "key revoked"))
    with pytest.raises(GovernorError, match="forbidden"), client.session("Standard", 30, heartbeat_seconds=1):
        pass


def test_a_refused_request_stops_nothing(client, scripted):
    scripted.script("POST", SESSIONS, problem(402, "budget-exhausted", "2.00 USD left"))
    with pytest.raises(GovernorError) as raised, client.session("Standard", 30):
        pytest.fail("the block must not run")
    assert raised.value.reason == "budget-exhausted"
    assert scripted.requests("DELETE") == []
