"""The idle rule measures a heartbeat's age on ARR's clock when the heartbeat recorded ARR's
elapsed time, and on the governor's clock when it did not (old rows, ARR unreadable)."""

import pytest

from governor.core.model import SessionStatus
from governor.core.policy.sweep import Action
from tests.unit.sweep.test_decisions import M, entry, policy, run, session


@pytest.mark.parametrize(
    ("heartbeat_elapsed", "action"),
    [(45, Action.LEAVE), (44, Action.STOP), (60, Action.LEAVE)],
)
def test_idle_boundary_in_arr_time(heartbeat_elapsed, action):
    # the governor's clock saw the heartbeat a minute ago; ARR's elapsed time decides
    d = run(s=session(elapsed=60), e=entry(heartbeat_ago=1, heartbeat_elapsed=heartbeat_elapsed * M))
    assert d.action is action
    assert d.figures["idle_minutes"] == 60 - heartbeat_elapsed
    if action is Action.STOP:
        assert (d.reason, d.event) == ("idle", "stop")


def test_arr_time_keeps_a_session_the_wall_clock_would_stop():
    d = run(s=session(elapsed=60), e=entry(heartbeat_ago=30, heartbeat_elapsed=50 * M))
    assert (d.action, d.reason) == (Action.LEAVE, "ok")
    assert d.figures["idle_minutes"] == 10


@pytest.mark.parametrize(("heartbeat_ago", "action"), [(15, Action.LEAVE), (16, Action.STOP)])
def test_without_arr_elapsed_the_governor_clock_decides(heartbeat_ago, action):
    d = run(s=session(elapsed=60), e=entry(heartbeat_ago=heartbeat_ago, heartbeat_elapsed=None))
    assert d.action is action
    assert d.figures["idle_minutes"] == heartbeat_ago


def test_a_reading_ahead_of_arr_counts_as_no_idle_time():
    # a heartbeat's reading can be newer than the sweep's list of sessions
    d = run(s=session(elapsed=60), e=entry(heartbeat_ago=40, heartbeat_elapsed=61 * M))
    assert d.action is Action.LEAVE and d.figures["idle_minutes"] == 0


def test_a_starting_session_is_never_idle_stopped_in_arr_time():
    s = session(elapsed=60, status=SessionStatus.STARTING)
    d = run(s=s, e=entry(heartbeat_ago=40, heartbeat_elapsed=0 * M))
    assert (d.action, d.reason) == (Action.LEAVE, "starting")


@pytest.mark.parametrize(
    ("heartbeat_elapsed", "action"),
    [(None, Action.LEAVE), (2, Action.EXTEND)],
)
def test_activity_for_an_extension_uses_arr_time(heartbeat_elapsed, action):
    # Ready 12 of a 20-minute lease: too young for the idle rule, remaining 8 < threshold 10.
    # The wall clock says the heartbeat is 20 minutes old; ARR says 10.
    reading = None if heartbeat_elapsed is None else heartbeat_elapsed * M
    d = run(s=session(elapsed=12, lease=20), e=entry(lease=20, heartbeat_ago=20, heartbeat_elapsed=reading))
    assert d.action is action


def test_an_adopted_session_is_idle_stopped_in_arr_time_once_it_heartbeats():
    d = run(s=session(elapsed=60), e=entry(heartbeat_ago=1, heartbeat_elapsed=40 * M, adopted=True))
    assert (d.action, d.reason) == (Action.STOP, "idle")
    d = run(s=session(elapsed=60), e=entry(heartbeat_ago=None, adopted=True))
    assert d.action is Action.LEAVE


def test_idle_timeout_comes_from_the_policy():
    e = entry(heartbeat_ago=1, heartbeat_elapsed=50 * M)
    assert run(s=session(elapsed=60), e=e, p=policy(idle_timeout=10 * M)).action is Action.LEAVE
    assert run(s=session(elapsed=60), e=e, p=policy(idle_timeout=9 * M)).action is Action.STOP
