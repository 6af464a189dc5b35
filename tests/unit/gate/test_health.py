"""Health: the sweep interval read from the NCRONTAB schedule (seconds first)."""

from datetime import UTC, datetime, timedelta

import pytest

from governor.service.health import sweep_interval

NOW = datetime(2026, 11, 26, 10, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "interval"),
    [
        ("0 * * * * *", timedelta(minutes=1)),
        ("0 */5 * * * *", timedelta(minutes=5)),
        ("*/30 * * * * *", timedelta(seconds=30)),
        ("0 0 * * * *", timedelta(hours=1)),
    ],
)
def test_interval_of_the_schedule(schedule, interval):
    assert sweep_interval(schedule, NOW) == interval


def test_an_unreadable_schedule_falls_back_to_a_minute():
    assert sweep_interval("not a schedule", NOW) == timedelta(minutes=1)
