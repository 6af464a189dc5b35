"""ArrReads: one call in flight per key, answers reused while fresh, errors never kept."""

import threading
import time

import pytest

from governor.service.gate.arr_reads import ArrReads


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_callers_during_a_flight_share_it():
    reads = ArrReads(bound=0, clock=Clock())
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow():
        calls.append(1)
        started.set()
        assert release.wait(10)
        return "answer"

    results = []
    leader = threading.Thread(target=lambda: results.append(reads.read("k", slow)))
    leader.start()
    assert started.wait(10)
    followers = [threading.Thread(target=lambda: results.append(reads.read("k", slow))) for _ in range(10)]
    for thread in followers:
        thread.start()
    flight = reads._flights["k"]
    deadline = time.monotonic() + 10
    while len(flight.done._cond._waiters) < 10:  # every follower waits on the leader's call
        assert time.monotonic() < deadline
        time.sleep(0.001)
    release.set()
    for thread in [leader, *followers]:
        thread.join(10)
    assert len(calls) == 1 and [seen.value for seen in results] == ["answer"] * 11


def test_an_answer_is_reused_up_to_the_bound_and_says_its_age():
    clock = Clock()
    reads = ArrReads(bound=5, clock=clock)
    answers = iter(["first", "second"])
    assert reads.read("k", lambda: next(answers)).value == "first"
    clock.now += 5
    seen = reads.read("k", lambda: next(answers))
    assert (seen.value, seen.age) == ("first", 5)
    clock.now += 0.01
    seen = reads.read("k", lambda: next(answers))
    assert (seen.value, seen.age) == ("second", 0)


def test_errors_are_not_kept():
    reads = ArrReads(bound=5, clock=Clock())

    def fail():
        raise TimeoutError("ARR did not answer")

    with pytest.raises(TimeoutError):
        reads.read("k", fail)
    assert reads.read("k", lambda: "ok").value == "ok"


def test_what_a_write_saw_is_served_and_forget_drops_it():
    clock = Clock()
    reads = ArrReads(bound=5, clock=clock)
    reads.read("k", lambda: "old")
    clock.now += 1
    reads.saw("k", "written")
    clock.now += 4.5  # 5.5 s after the read, 4.5 s after the write
    assert reads.read("k", lambda: "called").value == "written"
    reads.forget("k")
    assert reads.read("k", lambda: "called").value == "called"


def test_a_slow_flight_does_not_replace_a_newer_view():
    clock = Clock()
    reads = ArrReads(bound=5, clock=clock)

    def slow_read():
        clock.now += 2
        reads.saw("k", "written meanwhile")  # a write saw ARR after this call started
        return "read before the write"

    assert reads.read("k", slow_read).value == "read before the write"  # its caller gets its own answer
    assert reads.read("k", lambda: "called").value == "written meanwhile"


def test_the_number_of_keys_kept_is_bounded():
    reads = ArrReads(bound=5, clock=Clock(), size=3)
    for key in range(10):
        reads.read(key, lambda key=key: key)
    assert len(reads._kept) == 3
