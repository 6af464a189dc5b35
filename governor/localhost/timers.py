"""Timer triggers on their NCRONTAB schedules (UTC).

Like the Functions host, an invocation never overlaps the previous one of the same function:
the next occurrence is computed once the run has finished, so occurrences missed during a
long run are skipped, not queued. `past_due` is true when a run starts late.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from azure.functions.timer import TimerRequest
from croniter import croniter

from governor.localhost.discovery import TimerFunction

PAST_DUE_TOLERANCE = timedelta(seconds=1)

log = logging.getLogger("governor.localhost")


def next_occurrence(schedule: str, after: datetime) -> datetime:
    # NCrontab requires day-of-month AND day-of-week to match (cron's usual rule is OR).
    return croniter(schedule, after, second_at_beginning=True, day_or=False).get_next(datetime)


def is_past_due(scheduled: datetime, started: datetime) -> bool:
    return started - scheduled > PAST_DUE_TOLERANCE


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def timer_request(past_due: bool, last: datetime | None, following: datetime, now: datetime) -> TimerRequest:
    status = {"Last": _iso(last) if last else None, "Next": _iso(following), "LastUpdated": _iso(now)}
    return TimerRequest(past_due=past_due, schedule_status=status, schedule={"AdjustForDST": True})


class TimerRunner:
    """One thread per timer function. `invoke(request)` runs the function and must not raise."""

    def __init__(
        self,
        function: TimerFunction,
        invoke: Callable[[TimerFunction, TimerRequest, str], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        wait: Callable[[float], bool] | None = None,
    ):
        """`wait(seconds)` sleeps until the next occurrence and returns True once stop was requested."""
        self.function = function
        self._invoke = invoke
        self._clock = clock
        self._stop = threading.Event()
        self._wait = wait or self._stop.wait
        self._running = threading.Lock()  # also taken by manual (admin API) invocations
        self._last: datetime | None = None
        self._thread = threading.Thread(target=self._loop, name=f"timer-{function.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop scheduling and wait (up to `timeout`) for a running invocation to finish."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run_now(self, reason: str) -> None:
        """Run once now (run-on-startup, or the admin API), after any run in progress."""
        with self._running:
            now = self._clock()
            self._run(timer_request(False, self._last, next_occurrence(self.function.schedule, now), now), reason)

    def _run(self, request: TimerRequest, reason: str) -> None:
        self._last = self._clock()
        self._invoke(self.function, request, reason)

    def _loop(self) -> None:
        if self.function.run_on_startup and not self._stop.is_set():
            self.run_now("RunOnStartup")
        previous: datetime | None = None
        while not self._stop.is_set():
            now = self._clock()
            # A wait that wakes a hair early must not fire the same occurrence twice.
            scheduled = next_occurrence(self.function.schedule, max(now, previous) if previous else now)
            previous = scheduled
            if self._wait(max((scheduled - now).total_seconds(), 0.0)):
                return
            with self._running:
                if self._stop.is_set():
                    return
                started = self._clock()
                following = next_occurrence(self.function.schedule, max(started, scheduled))
                request = timer_request(is_past_due(scheduled, started), self._last, following, started)
                self._run(request, "Timer fired at " + _iso(scheduled))
