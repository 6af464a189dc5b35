"""The gate's ARR reads for polling clients: one call in flight per session, answers reused
while fresh, so 30 apps polling one session every second cost ARR one call per freshness bound.

ARR answers 429 when calls come closer than a few seconds, and an app polls its session until
Ready. `ArrReads` keeps, per instance, the last answer for each key (the gate's keys: a session,
an account's list) with the monotonic time its call started; a read younger than `bound` seconds is
served from it, and a read that finds a call already in flight waits for that call instead of
making its own (single flight). Every answer says how old its ARR view is. Errors are never
kept: each caller of a failed flight hears the error, and the next read calls again. Writes
(extend, stop) do not read through here; they tell it what they saw instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class _Flight:
    started: float
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None


@dataclass(frozen=True)
class Seen:
    """An ARR answer and how old it was when served (seconds since its call started)."""

    value: Any
    age: float


class ArrReads:
    def __init__(self, bound: float = 5.0, clock: Callable[[], float] = time.monotonic, size: int = 4096):
        self.bound = bound
        self.clock = clock
        self._size = size
        self._lock = threading.Lock()
        self._kept: dict[Hashable, tuple[float, Any]] = {}  # key -> (call started, value)
        self._flights: dict[Hashable, _Flight] = {}

    # ------------------------------------------------------------ reads
    def read(self, key: Hashable, call: Callable[[], Any]) -> Seen:
        """`call()`'s answer for `key`, from a call started at most `bound` seconds ago."""
        with self._lock:
            now = self.clock()
            kept = self._kept.get(key)
            if kept is not None and now - kept[0] <= self.bound:
                return Seen(kept[1], max(now - kept[0], 0.0))
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight(started=now)
        if leader:
            self._fly(key, flight, call)
        else:
            flight.done.wait()
        if flight.error is not None:
            raise flight.error
        return Seen(flight.value, max(self.clock() - flight.started, 0.0))

    def _fly(self, key: Hashable, flight: _Flight, call: Callable[[], Any]) -> None:
        try:
            flight.value = call()
        except BaseException as exc:
            flight.error = exc
        with self._lock:
            del self._flights[key]
            if flight.error is None:
                self._keep(key, flight.started, flight.value)
        flight.done.set()

    # ------------------------------------------------------------ what writes saw
    def saw(self, key: Hashable, value: Any) -> None:
        """A write read or changed what `key` names just now: later reads start from `value`."""
        with self._lock:
            self._keep(key, self.clock(), value)

    def forget(self, *keys: Hashable) -> None:
        """A write changed what `keys` name in a way it did not read back (e.g. a stop)."""
        with self._lock:
            for key in keys:
                self._kept.pop(key, None)

    def _keep(self, key: Hashable, started: float, value: Any) -> None:
        """Call under the lock. Never replaces a newer view with an older one."""
        kept = self._kept.pop(key, None)
        if kept is not None and kept[0] > started:
            started, value = kept
        self._kept[key] = (started, value)
        while len(self._kept) > self._size:
            self._kept.pop(next(iter(self._kept)))
