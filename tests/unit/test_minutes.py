"""The three ways to count a duration's minutes, each with its own purpose, defined once in the model."""

from datetime import UTC, datetime, timedelta

import pytest

from governor.core.model import ceil_minutes, counted_before_midnight, minutes_figure, whole_minutes


@pytest.mark.parametrize(
    ("duration", "whole", "started", "figure"),
    [
        (timedelta(0), 0, 0, 0),
        (timedelta(seconds=1), 0, 1, 0.017),
        (timedelta(seconds=59), 0, 1, 0.983),
        (timedelta(minutes=1), 1, 1, 1),
        (timedelta(minutes=1, microseconds=1), 1, 2, 1.0),
        (timedelta(seconds=90), 1, 2, 1.5),
        (timedelta(hours=24), 1440, 1440, 1440),
        (timedelta(minutes=-5), 0, 0, -5),
    ],
)
def test_whole_started_and_figure_minutes(duration, whole, started, figure):
    assert whole_minutes(duration) == whole
    assert ceil_minutes(duration) == started
    assert minutes_figure(duration) == figure


MIDNIGHT = datetime(2027, 3, 17, tzinfo=UTC)


@pytest.mark.parametrize(
    ("elapsed", "started", "now", "scale", "before"),
    [
        (30, MIDNIGHT - timedelta(minutes=25), MIDNIGHT + timedelta(minutes=10), 1, 20),  # 10 of 30 today
        (30, MIDNIGHT - timedelta(minutes=25), MIDNIGHT + timedelta(minutes=40), 1, 0),  # none before it
        (37, MIDNIGHT + timedelta(seconds=5), MIDNIGHT + timedelta(seconds=30), 1, 0),  # ARR ahead: requested after
        (37, MIDNIGHT - timedelta(minutes=2), MIDNIGHT + timedelta(seconds=30), 1, 2),  # ARR ahead: 2 at most
        (90, MIDNIGHT - timedelta(seconds=30), MIDNIGHT + timedelta(seconds=60), 60, 30),  # x60: 30 s is 30 min
        (5, MIDNIGHT - timedelta(hours=3), MIDNIGHT - timedelta(minutes=1), 1, 0),  # all of it on `now`'s day
        (121, None, MIDNIGHT + timedelta(seconds=45), 1, 121),  # start unknown (adopted): no bound
    ],
)
def test_minutes_counted_before_midnight_never_before_the_session(elapsed, started, now, scale, before):
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    assert counted_before_midnight(elapsed, started, now, scale) == (midnight, before)
