"""Group commit: requests for a busy key queue and ride the next batch, in arrival order."""

import threading
import time

import pytest

from governor.store.groupcommit import GroupCommit, Outcome


class Recorder:
    """A batch runner that records its batches; the first batch blocks until released."""

    def __init__(self, fail_on=None):
        self.batches: list[list] = []
        self.release = threading.Event()
        self.entered = threading.Event()
        self.fail_on = fail_on
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def run(self, key, items):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.batches.append(list(items))
            first = len(self.batches) == 1
        if first:
            self.entered.set()
            assert self.release.wait(10)
        try:
            if self.fail_on is not None and self.fail_on in items:
                raise RuntimeError("transaction failed")
            return [Outcome(error=ValueError(item)) if item < 0 else Outcome(value=(key, item)) for item in items]
        finally:
            with self.lock:
                self.in_flight -= 1


def submit_all(group, key, items, recorder):
    """Submit items[0] (it leads and blocks), queue the rest in order, then release."""
    results: dict = {}

    def one(item):
        try:
            results[item] = group.submit(key, item)
        except Exception as exc:
            results[item] = exc

    threads = [threading.Thread(target=one, args=(items[0],))]
    threads[0].start()
    assert recorder.entered.wait(10)
    for count, item in enumerate(items[1:], start=1):
        thread = threading.Thread(target=one, args=(item,))
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + 10
        while group.pending(key) < count:  # queued in this order before the next one starts
            assert time.monotonic() < deadline
            time.sleep(0.001)
    recorder.release.set()
    for thread in threads:
        thread.join(10)
    return results


def test_requests_arriving_during_a_transaction_ride_the_next_one_in_arrival_order():
    recorder = Recorder()
    group = GroupCommit(recorder.run)
    results = submit_all(group, "p", [1, 2, 3, 4, 5], recorder)
    assert recorder.batches == [[1], [2, 3, 4, 5]]
    assert results == {i: ("p", i) for i in range(1, 6)}
    assert recorder.max_in_flight == 1 and group.pending("p") == 0


def test_each_request_hears_its_own_refusal():
    recorder = Recorder()
    group = GroupCommit(recorder.run)
    results = submit_all(group, "p", [1, 2, -3, 4], recorder)
    assert isinstance(results[-3], ValueError) and str(results[-3]) == "-3"
    assert results[2] == ("p", 2) and results[4] == ("p", 4)


def test_a_failed_transaction_fails_every_request_in_it_and_the_next_batch_still_runs():
    recorder = Recorder(fail_on=3)
    group = GroupCommit(recorder.run, fits=lambda batch, item: len(batch) < 2)
    results = submit_all(group, "p", [1, 2, 3, 4, 5], recorder)
    assert recorder.batches == [[1], [2, 3], [4, 5]]
    assert all(isinstance(results[i], RuntimeError) for i in (2, 3))
    assert results[1] == ("p", 1) and results[4] == ("p", 4) and results[5] == ("p", 5)


def test_fits_caps_a_batch_and_the_rest_follows_in_order():
    recorder = Recorder()
    group = GroupCommit(recorder.run, fits=lambda batch, item: len(batch) < 3)
    submit_all(group, "p", list(range(1, 9)), recorder)
    assert recorder.batches == [[1], [2, 3, 4], [5, 6, 7], [8]]


def test_different_keys_do_not_wait_for_each_other():
    recorder = Recorder()
    group = GroupCommit(recorder.run)
    blocked = threading.Thread(target=group.submit, args=("p", 1))
    blocked.start()
    assert recorder.entered.wait(10)
    assert group.submit("q", 2) == ("q", 2)  # p's transaction is still in flight
    recorder.release.set()
    blocked.join(10)
    assert recorder.max_in_flight == 2


def test_a_lone_request_is_a_batch_of_one_and_leaves_nothing_behind():
    group = GroupCommit(lambda key, items: [Outcome(value=i * 2) for i in items])
    assert group.submit("p", 21) == 42
    assert group.pending("p") == 0 and group._queues == {}


def test_a_runner_that_answers_the_wrong_number_of_requests_fails_them_all():
    group = GroupCommit(lambda key, items: [])
    with pytest.raises(RuntimeError, match="got 0 outcomes"):
        group.submit("p", 1)


# ---------------------------------------------------------------- deferred items
def test_a_deferred_item_rides_the_next_submit_of_its_key_in_arrival_order():
    batches = []

    def run(key, items):
        batches.append(list(items))
        return [Outcome(value=i) for i in items]

    group = GroupCommit(run, defer_seconds=60)
    group.defer("p", "activate-1")
    assert batches == [] and group.pending("p") == 1  # nobody waits for it: no transaction yet
    assert group.submit("p", "reserve-2") == "reserve-2"
    assert batches == [["activate-1", "reserve-2"]]
    assert group.pending("p") == 0


def test_a_deferred_item_nobody_follows_is_written_by_its_timer():
    done = threading.Event()
    batches = []

    def run(key, items):
        batches.append(list(items))
        done.set()
        return [Outcome(value=i) for i in items]

    group = GroupCommit(run, defer_seconds=0.05)
    group.defer("p", "a")
    group.defer("p", "b")
    assert done.wait(5)
    assert batches == [["a", "b"]] and group.pending("p") == 0


def test_flush_writes_deferred_items_now_and_a_failure_is_only_logged(caplog):
    def run(key, items):
        return [Outcome(error=RuntimeError("row moved")) if i == "bad" else Outcome(value=i) for i in items]

    group = GroupCommit(run, defer_seconds=60)
    group.defer("p", "good")
    group.defer("q", "bad")
    group.flush()
    assert group.pending("p") == group.pending("q") == 0
    assert "deferred str for q failed" in caplog.text


def test_a_leader_behind_more_deferred_items_than_one_batch_holds_runs_until_it_is_answered():
    batches = []

    def run(key, items):
        batches.append(list(items))
        return [Outcome(value=i) for i in items]

    group = GroupCommit(run, fits=lambda batch, item: len(batch) < 2, defer_seconds=60)
    for name in ("d1", "d2", "d3"):
        group.defer("p", name)
    assert group.submit("p", "mine") == "mine"
    assert batches == [["d1", "d2"], ["d3", "mine"]]
