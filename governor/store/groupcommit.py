"""Group commit: requests for one key that arrive while a transaction for it is in flight
queue in process and ride the next transaction together.

The first request for an idle key leads: it takes the queue's head (its own request first) up
to the batch limit, runs the batch, answers every request in it, and hands the lead to the
next queued request, which does the same. So there is at most one transaction per key in
flight in this process, and no request waits for more than the batch ahead of it. The batch
itself (read, decide in arrival order, one ETag-guarded write, retry) is the caller's
`run(key, items)`, which returns one outcome per item. Pure threading: no I/O here.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


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
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    outcome: Outcome | None = None


class GroupCommit(Generic[T]):
    """`submit(key, item)` blocks until the batch carrying `item` has run; returns its value.

    `fits(batch, item)`: may `item` join `batch` (the items taken so far, never empty)? The
    head of the queue always forms a batch of at least one.
    """

    def __init__(
        self,
        run: Callable[[Hashable, Sequence[T]], Sequence[Outcome]],
        fits: Callable[[Sequence[T], T], bool] = lambda batch, item: True,
    ):
        self._run = run
        self._fits = fits
        self._lock = threading.Lock()
        self._queues: dict[Hashable, deque[_Waiter[T]]] = {}

    def submit(self, key: Hashable, item: T):
        waiter = _Waiter(item)
        with self._lock:
            queue = self._queues.get(key)
            if queue is None:  # idle key: lead at once
                queue = self._queues[key] = deque()
                waiter.lead = True
            queue.append(waiter)
        if not waiter.lead:
            waiter.done.wait()
        if waiter.outcome is None:  # handed the lead (or led from the start)
            self._lead(key)
        assert waiter.outcome is not None
        return waiter.outcome.result()

    def _lead(self, key: Hashable) -> None:
        with self._lock:
            queue = self._queues[key]
            batch = [queue.popleft()]
            while queue and self._fits([w.item for w in batch], queue[0].item):
                batch.append(queue.popleft())
        try:
            outcomes = list(self._run(key, [w.item for w in batch]))
            if len(outcomes) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} got {len(outcomes)} outcomes")
        except BaseException as exc:  # the whole batch failed: every request hears why
            outcomes = [Outcome(error=exc)] * len(batch)
        for waiter, outcome in zip(batch, outcomes, strict=True):
            waiter.outcome = outcome
        with self._lock:
            if queue:
                queue[0].lead = True
                queue[0].done.set()
            else:
                del self._queues[key]
        for waiter in batch:
            waiter.done.set()

    def pending(self, key: Hashable) -> int:
        """Requests queued for `key` (not counting a batch in flight); for tests and benchmarks."""
        with self._lock:
            return len(self._queues.get(key, ()))
