"""The heartbeat cadence the gate suggests: in real seconds, inside the idle timeout on ARR's clock."""

from datetime import timedelta

from governor.core.policy.gate import heartbeat_interval


def test_a_third_of_the_idle_timeout_at_most_a_minute():
    assert heartbeat_interval(timedelta(minutes=15)) == 60.0
    assert heartbeat_interval(timedelta(minutes=2)) == 40.0
    assert heartbeat_interval(timedelta(seconds=90)) == 30.0


def test_a_faster_arr_clock_asks_for_faster_heartbeats():
    # make run's emulator: 15 ARR minutes pass in 15 real seconds, so three beats fit in 5 s
    assert heartbeat_interval(timedelta(minutes=15), arr_time_scale=60) == 5.0
    assert heartbeat_interval(timedelta(minutes=1), arr_time_scale=600) == 1.0  # never below a second
