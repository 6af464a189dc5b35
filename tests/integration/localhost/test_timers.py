"""Timers fire on their NCRONTAB schedule with %SETTING% resolved, pass a real TimerRequest and never overlap."""

import time
from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest

from governor.localhost.discovery import HostStartupError, TimerFunction, index_functions, load_app
from governor.localhost.timers import TimerRunner, is_past_due, next_occurrence
from tests.integration.localhost import sample_app
from tests.integration.localhost.conftest import SAMPLE, serving

T0 = datetime(2026, 1, 1, 9, 0, 0, tzinfo=UTC)  # a Thursday


def test_timer_fires_every_second_and_never_overlaps_itself():
    sample_app.TICKS.clear()
    with serving({"SAMPLE_TICK_SCHEDULE": "* * * * * *"}):
        deadline = time.monotonic() + 8
        while len(sample_app.TICKS) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert len(sample_app.TICKS) >= 3
    assert sample_app.max_concurrent_ticks() == 1  # each run takes 1.3 s on a 1 s schedule
    assert {t["type"] for t in sample_app.TICKS} == {"TimerRequest"}


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

    def invoke(function, request, reason):
        seen.append((request.past_due, request.schedule_status["Next"]))
        runner.request_stop()

    def oversleep(seconds: float) -> bool:
        now[0] += timedelta(seconds=seconds + 3)
        return False

    function = TimerFunction("t", "* * * * * *", False, lambda timer: None, "timer")
    runner = TimerRunner(function, invoke, clock, wait=oversleep)
    runner._loop()
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
