"""Timers fire on their NCRONTAB schedule with %SETTING% resolved, pass a real TimerRequest and never overlap."""

import threading
import time
from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest

from governor.localhost.discovery import HostStartupError, TimerFunction, index_functions, load_app
from governor.localhost.timers import TimerRunner, is_past_due, next_occurrence
from tests.integration.localhost.conftest import SAMPLE

T0 = datetime(2026, 1, 1, 9, 0, 0, tzinfo=UTC)  # a Thursday


class VirtualTime:
    """The runner's clock and wait: waiting moves the clock, nothing sleeps."""

    def __init__(self, start: datetime):
        self.now = start
        self.lock = threading.Lock()

    def clock(self) -> datetime:
        with self.lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += timedelta(seconds=seconds)

    def wait(self, seconds: float) -> bool:
        self.advance(seconds)
        return False


def test_timer_fires_on_each_second_skipping_those_a_long_run_covers():
    """Each run takes 1.3 s on a 1 s schedule: it fires at :01, :03, :05 (the occurrence a run
    covers is skipped, not queued), never late; each request names the occurrence after its start."""
    time_ = VirtualTime(T0 + timedelta(milliseconds=200))
    fired: list[tuple[str, bool, str, str]] = []
    third = threading.Event()

    def invoke(function, request, reason):
        fired.append((reason, request.past_due, request.schedule_status["Next"], type(request).__name__))
        time_.advance(1.3)
        if len(fired) == 3:
            runner.request_stop()
            third.set()

    function = TimerFunction("tick", "* * * * * *", False, lambda timer: None, "timer")
    runner = TimerRunner(function, invoke, time_.clock, wait=time_.wait)
    runner.start()
    assert third.wait(30)
    runner.stop(timeout=10)
    at = lambda s: (T0 + timedelta(seconds=s)).isoformat()  # noqa: E731
    assert fired == [
        (f"Timer fired at {at(1)}", False, at(2), "TimerRequest"),
        (f"Timer fired at {at(3)}", False, at(4), "TimerRequest"),
        (f"Timer fired at {at(5)}", False, at(6), "TimerRequest"),
    ]


def test_a_manual_run_waits_for_the_scheduled_run_in_progress():
    time_ = VirtualTime(T0)
    running, release, active, most = threading.Event(), threading.Event(), [0], [0]
    reasons: list[str] = []

    def invoke(function, request, reason):
        active[0] += 1
        most[0] = max(most[0], active[0])
        reasons.append(reason)
        if len(reasons) == 1:
            running.set()
            release.wait(10)
        active[0] -= 1
        runner.request_stop()

    function = TimerFunction("tick", "* * * * * *", False, lambda timer: None, "timer")
    runner = TimerRunner(function, invoke, time_.clock, wait=time_.wait)
    runner.start()
    assert running.wait(10)
    manual = threading.Thread(target=runner.run_now, args=("manual",))
    manual.start()
    manual.join(0.2)
    assert manual.is_alive() and reasons == [f"Timer fired at {(T0 + timedelta(seconds=1)).isoformat()}"]
    release.set()
    manual.join(10)
    runner.stop(timeout=10)
    assert reasons[1:] == ["manual"] and most[0] == 1


def test_schedule_setting_is_resolved_from_the_environment():
    index = index_functions(load_app(SAMPLE), {"SAMPLE_TICK_SCHEDULE": "0  */5 * * * *"})
    assert [(t.name, t.schedule) for t in index.timers] == [("tick", "0 */5 * * * *")]


def test_an_unresolved_schedule_setting_is_refused_with_the_host_message():
    with pytest.raises(HostStartupError) as refused:
        index_functions(load_app(SAMPLE), {})
    assert refused.value.errors == {"tick": "'%SAMPLE_TICK_SCHEDULE%' does not resolve to a value."}


@pytest.mark.parametrize("schedule", ["*/5 * * * *", "0 0 25 * * *", "every minute"])
def test_schedules_that_are_not_six_field_ncrontab_are_refused(schedule):
    with pytest.raises(HostStartupError) as refused:
        index_functions(load_app(SAMPLE), {"SAMPLE_TICK_SCHEDULE": schedule})
    assert "was not recognized as a valid cron expression" in refused.value.errors["tick"]


def test_ncrontab_has_seconds_first_and_is_utc():
    assert next_occurrence("*/15 * * * * *", T0 + timedelta(seconds=1)) == T0 + timedelta(seconds=15)
    assert next_occurrence("0 30 9 * * 1-5", T0) == T0 + timedelta(minutes=30)
    assert next_occurrence("0 0 12 * * Sat", T0) == datetime(2026, 1, 3, 12, tzinfo=UTC)


def test_past_due_means_started_more_than_a_second_late():
    assert not is_past_due(T0, T0 + timedelta(milliseconds=900))
    assert is_past_due(T0, T0 + timedelta(seconds=2))


def test_a_run_that_starts_late_is_past_due_and_missed_occurrences_are_skipped():
    """Injected clock: the first wait 'oversleeps' by three seconds (a suspended laptop)."""
    now = [T0 + timedelta(milliseconds=500)]
    seen: list[tuple[bool, str]] = []

    def clock():
        return now[0]

    ran = threading.Event()

    def invoke(function, request, reason):
        seen.append((request.past_due, request.schedule_status["Next"]))
        runner.request_stop()
        ran.set()

    def oversleep(seconds: float) -> bool:
        now[0] += timedelta(seconds=seconds + 3)
        return False

    function = TimerFunction("t", "* * * * * *", False, lambda timer: None, "timer")
    runner = TimerRunner(function, invoke, clock, wait=oversleep)
    runner.start()
    assert ran.wait(30)
    runner.stop(timeout=10)
    assert seen == [(True, (T0 + timedelta(seconds=5)).isoformat())]


def test_run_on_startup_fires_once_before_the_schedule():
    app = func.FunctionApp()
    calls = []

    @app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
    def yearly(timer: func.TimerRequest) -> None:
        calls.append(timer.past_due)

    index = index_functions(app, {})
    from governor.localhost.server import Keys, LocalHost

    with LocalHost(index, Keys(), port=0):
        deadline = time.monotonic() + 5
        while not calls and time.monotonic() < deadline:
            time.sleep(0.05)
    assert calls == [False]
