"""Group commit: requests for one key that arrive while a transaction for it is in flight
queue in process and ride the next transaction together.

The first request for an idle key leads: it takes the queue's head up to the batch limit, runs
the batch, answers every request in it, and hands the lead to the next queued request, which
does the same. So there is at most one transaction per key in flight in this process, and no
request waits for more than the batches ahead of it. The batch itself (read, decide in arrival
order, one ETag-guarded write, retry) is the caller's `run(key, items)`, which returns one
outcome per item.

`defer(key, item)` queues an item nobody waits for: it rides the next batch of its key (the
next write of the partition), or, if none comes within `defer_seconds`, a timer leads a batch
for it. A deferred item's failure is logged; whoever deferred it must not need it done.
Pure threading: no I/O here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
K = TypeVar("K", bound=Hashable)  # the batch key (a project name for the ledger)


@dataclass
class Outcome:
    """One request's answer: a value, or the exception to raise in its own thread."""

    value: Any = None
    error: BaseException | None = None

    def result(self):
        if self.error is not None:
            raise self.error
        return self.value


@dataclass(eq=False)
class _Waiter(Generic[T]):
    item: T
    deferred: bool = False  # nobody waits for it: the lead cannot be handed to it
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    outcome: Outcome | None = None


class GroupCommit(Generic[K, T]):
    """`submit(key, item)` blocks until the batch carrying `item` has run; returns its value.

    `fits(batch, item)`: may `item` join `batch` (the items taken so far, never empty)? The
    head of the queue always forms a batch of at least one.
    """

    def __init__(
        self,
        run: Callable[[K, Sequence[T]], Sequence[Outcome]],
        fits: Callable[[Sequence[T], T], bool] = lambda batch, item: True,
        defer_seconds: float = 1.0,
    ):
        self._run = run
        self._fits = fits
        self.defer_seconds = defer_seconds
        self._lock = threading.Lock()
        self._queues: dict[K, deque[_Waiter[T]]] = {}
        self._leading: set[K] = set()  # keys with a batch in flight or a lead being handed over
        self._timers: set[K] = set()

    def submit(self, key: K, item: T):
        waiter = _Waiter(item)
        with self._lock:
            self._queues.setdefault(key, deque()).append(waiter)
            if key not in self._leading:
                self._leading.add(key)
                waiter.lead = True
        if not waiter.lead:
            waiter.done.wait()
        if waiter.outcome is None:  # handed the lead (or led from the start)
            self._lead(key, waiter)
        assert waiter.outcome is not None
        return waiter.outcome.result()

    def defer(self, key: K, item: T) -> None:
        with self._lock:
            self._queues.setdefault(key, deque()).append(_Waiter(item, deferred=True))
            if key in self._timers:
                return
            self._timers.add(key)
        self._start_timer(key)

    def _start_timer(self, key: K) -> None:
        timer = threading.Timer(self.defer_seconds, self._flush, (key,))
        timer.daemon = True
        timer.start()

    def _flush(self, key: K) -> None:
        with self._lock:
            self._timers.discard(key)
            if key in self._leading or not self._queues.get(key):
                return  # a batch in flight takes the deferred items along, or they are gone already
            self._leading.add(key)
        self._lead(key, None)

    def _lead(self, key: K, mine: _Waiter | None) -> None:
        """Run batches from the queue's head until `mine` is answered, then hand the lead to the
        first request that waits; with none, let it go (deferred items keep their timer)."""
        while True:
            with self._lock:
                queue = self._queues[key]
                batch = [queue.popleft()]
                while queue and self._fits([w.item for w in batch], queue[0].item):
                    batch.append(queue.popleft())
            self._run_batch(key, batch)
            with self._lock:
                if not queue:
                    del self._queues[key]
                    self._leading.discard(key)
                    return
                if mine is not None and mine.outcome is None:
                    continue  # our own request is further down the queue
                waiting = next((w for w in queue if not w.deferred), None)
                if waiting is not None:  # it leads on, from the head of the queue
                    waiting.lead = True
                    waiting.done.set()
                    return
                # only deferred items left: they wait for the next write or their timer
                self._leading.discard(key)
                if key in self._timers:
                    return
                self._timers.add(key)
            self._start_timer(key)
            return

    def _run_batch(self, key: K, batch: list[_Waiter[T]]) -> None:
        try:
            outcomes = list(self._run(key, [w.item for w in batch]))
            if len(outcomes) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} got {len(outcomes)} outcomes")
        except BaseException as exc:  # the whole batch failed: every request hears why
            outcomes = [Outcome(error=exc)] * len(batch)
        for waiter, outcome in zip(batch, outcomes, strict=True):
            waiter.outcome = outcome
            if waiter.deferred and outcome.error is not None:
                log.warning("a deferred %s for %s failed: %r", type(waiter.item).__name__, key, outcome.error)
            waiter.done.set()

    def flush(self) -> None:
        """Write every deferred item now; returns once no key has any queued (graceful shutdown, tests)."""
        while True:
            with self._lock:
                idle = [key for key, queue in self._queues.items() if queue and key not in self._leading]
                busy = any(key in self._leading for key in self._queues)
                self._leading.update(idle)
            for key in idle:
                self._lead(key, None)
            if not idle and not busy:
                return
            if not idle:
                time.sleep(0.005)  # a batch is in flight; it takes the deferred items along

    def pending(self, key: K) -> int:
        """Requests queued for `key` (not counting a batch in flight); for tests and benchmarks."""
        with self._lock:
            return len(self._queues.get(key, ()))
