import random

import pytest

from governor.emulator.clock import VirtualClock
from governor.emulator.errors import ApiError
from governor.emulator.faults import Faults, from_json


class Fake:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_clock_scales_real_time_and_adds_advances():
    mono = Fake()
    clock = VirtualClock(60, wall=lambda: 1_800_000_000, monotonic=mono)
    start = clock.now()
    mono.t += 2
    assert (clock.now() - start).total_seconds() == 120
    clock.advance(30)
    assert (clock.now() - start).total_seconds() == 150
    with pytest.raises(ValueError):
        clock.advance(-1)
    clock.reset()
    assert (clock.now() - start).total_seconds() == 120


def test_catch_up_never_moves_back():
    clock = VirtualClock(1, monotonic=Fake())
    now = clock.now()
    clock.catch_up(now.replace(year=now.year - 1))
    assert clock.now() == now
    clock.catch_up(now.replace(year=now.year + 1))
    assert clock.now().year == now.year + 1


def test_faults_pick_by_rate_and_path():
    faults = Faults(rate=1, statuses=(503,), rng=random.Random(1))
    assert faults.pick("/x") == 503
    faults = from_json({"rate": 1, "statuses": [429], "paths": "token$"})
    assert faults.pick("/accounts/a/token") == 429
    assert faults.pick("/accounts/a/sessions") is None
    assert Faults().pick("/x") is None


@pytest.mark.parametrize(
    "body",
    [
        {"rate": -0.1},
        {"rate": True},
        {"statuses": []},
        {"statuses": ["x"]},
        {"retryAfter": 1.5},
        {"capacityFailures": -1},
    ],
)
def test_invalid_faults_are_400(body):
    with pytest.raises(ApiError) as error:
        from_json(body)
    assert error.value.status == 400


def test_statuses_accept_a_comma_list():
    assert from_json({"statuses": "429, 500"}).statuses == (429, 500)
