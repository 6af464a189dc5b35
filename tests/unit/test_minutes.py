"""The three ways to count a duration's minutes, each with its own purpose, defined once in the model."""

from datetime import timedelta

import pytest

from governor.core.model import ceil_minutes, minutes_figure, whole_minutes


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
