"""Polling that ARR never feels: the gate's session reads share one ARR call per session and
reuse its answer for GOVERNOR_GATE_READ_SECONDS, counted by the emulator; writes read fresh.

The freshness bound runs on an injected clock, so no test sleeps through it.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from governor.bootstrap import get_context, set_context
from governor.service.gate.arr_reads import ArrReads


class Clock:
    def __init__(self, tick: float = 0.0):
        self.now = 1000.0
        self.tick = tick  # added on every reading: tick > bound means nothing is ever reused

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def use_reads(bound: float, clock: Clock) -> ArrReads:
    reads = ArrReads(bound=bound, clock=clock)
    set_context(replace(get_context(), reads=reads))
    return reads


def arr_calls(emulator, method: str, suffix: str) -> int:
    """Requests the emulator counted for ARR routes ending in `suffix` (its own counters)."""
    requests = emulator.stats()["requests"]
    return sum(n for route, n in requests.items() if route.startswith(method + " ") and route.endswith(suffix))


def session_gets(emulator) -> int:
    return arr_calls(emulator, "GET", "/accounts/{account}/sessions/{session}")


def session_lists(emulator) -> int:
    return arr_calls(emulator, "GET", "/accounts/{account}/sessions")


@pytest.fixture
def started(gate):
    key = gate.project(max_concurrent=5)
    created = gate.create("alpha", key)
    assert created.status == 202, created.body
    gate.settle()
    return key, created.body["sessionId"]


def poll_together(count: int, poll) -> list:
    barrier = threading.Barrier(count)
    replies: list = [None] * count

    def one(index):
        barrier.wait()
        replies[index] = poll()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return replies


def test_thirty_polls_during_one_arr_call_share_it(gate, emulator, started):
    key, sid = started
    use_reads(bound=0, clock=Clock(tick=1.0))  # nothing is reused: only the shared flight saves calls
    emulator.set_faults(latencyMs=2000, paths="/sessions/")  # ARR answers slowly
    before = session_gets(emulator)
    replies = poll_together(30, lambda: gate.get("alpha", key, sid))
    assert [r.status for r in replies] == [200] * 30
    assert session_gets(emulator) - before == 1
    assert len({r.body["status"] for r in replies}) == 1


def test_polls_reuse_an_answer_up_to_the_bound_and_say_how_old_it_is(gate, emulator, started):
    key, sid = started
    clock = Clock()
    use_reads(bound=5, clock=clock)
    before = session_gets(emulator)
    first = gate.get("alpha", key, sid)
    assert (first.body["status"], first.body["arrViewAgeSeconds"]) == ("Starting", 0)
    emulator.advance(10)  # ARR's session is Ready now; the gate's view is not yet 5 s old
    clock.now += 4.9
    replies = poll_together(30, lambda: gate.get("alpha", key, sid))
    assert {(r.body["status"], r.body["arrViewAgeSeconds"]) for r in replies} == {("Starting", 4.9)}
    assert session_gets(emulator) - before == 1
    clock.now += 0.2  # past the bound: the next poll asks ARR again
    fresh = gate.get("alpha", key, sid)
    assert (fresh.body["status"], fresh.body["arrViewAgeSeconds"]) == ("Ready", 0)
    assert fresh.body["hostname"]
    assert session_gets(emulator) - before == 2


def test_lists_share_one_arr_list_per_bound_and_each_session_says_its_age(gate, emulator, started):
    key, sid = started
    clock = Clock()
    use_reads(bound=5, clock=clock)
    before = session_lists(emulator)
    replies = poll_together(20, lambda: gate.list("alpha", key))
    assert [r.status for r in replies] == [200] * 20
    assert session_lists(emulator) - before == 1
    sessions = replies[0].body["sessions"]
    assert [(s["sessionId"], s["arrViewAgeSeconds"]) for s in sessions] == [(sid, 0)]


def test_writes_read_arr_fresh_and_later_polls_see_what_they_saw(gate, emulator, started):
    key, sid = started
    clock = Clock()
    use_reads(bound=5, clock=clock)
    assert gate.get("alpha", key, sid).body["status"] == "Starting"  # kept for 5 s
    emulator.advance(10)
    gets = session_gets(emulator)
    extended = gate.extend("alpha", key, sid, {"maxLeaseTime": 90})
    assert extended.status == 200, extended.body
    assert extended.body["status"] == "Ready"  # the write asked ARR, not the kept answer
    assert session_gets(emulator) - gets == 1
    polled = gate.get("alpha", key, sid)  # no ARR call: the extend's answer is the freshest view
    assert (polled.body["status"], polled.body["leaseMinutes"]) == ("Ready", 90)
    assert session_gets(emulator) - gets == 1
    stopped = gate.stop("alpha", key, sid)
    assert stopped.status == 200 and session_gets(emulator) - gets == 2  # the stop read ARR itself
    after = gate.get("alpha", key, sid)
    assert (after.body["state"], after.body["arrViewAgeSeconds"]) == ("closed", None)
    assert session_gets(emulator) - gets == 2  # closed: ARR is not asked


def test_a_heartbeat_reads_arr_fresh_and_later_polls_see_it(gate, emulator, started):
    key, sid = started
    use_reads(bound=5, clock=Clock())
    assert gate.get("alpha", key, sid).body["status"] == "Starting"
    emulator.advance(10)
    gets = session_gets(emulator)
    assert gate.heartbeat("alpha", key, sid).body["status"] == "Ready"
    assert gate.get("alpha", key, sid).body["status"] == "Ready"
    assert session_gets(emulator) - gets == 1  # the heartbeat's own read, shared with the poll


def test_an_arr_error_is_answered_but_never_kept(gate, emulator, started):
    key, sid = started
    use_reads(bound=5, clock=Clock())
    emulator.set_faults(rate=1.0, statuses=[500], paths="/sessions/")
    failed = gate.get("alpha", key, sid)
    assert failed.status == 503
    emulator.clear_faults()
    before = session_gets(emulator)
    assert gate.get("alpha", key, sid).status == 200
    assert session_gets(emulator) - before == 1
