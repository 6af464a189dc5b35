import random
from datetime import timedelta

import pytest

from governor.emulator.clock import VirtualClock
from governor.emulator.errors import ApiError
from governor.emulator.faults import Faults, Step, from_json


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
    clock.catch_up(now - timedelta(days=366))  # not replace(year=...): a leap day has no twin a year off
    assert clock.now() == now
    clock.catch_up(now + timedelta(days=366))
    assert clock.now() == now + timedelta(days=366)


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


def test_a_sequence_is_played_in_order_on_matching_requests_then_the_rate_applies():
    faults = from_json(
        {
            "sequence": [{"status": 500, "phase": "after"}, {"status": 429}, {"latencyMs": 5, "phase": "after"}],
            "methods": ["put"],
            "paths": "/sessions/",
        }
    )
    assert faults.plan("/accounts/a/sessions/s1", "GET") is None  # another method: untouched
    assert faults.plan("/accounts/a/sessions", "PUT") is None  # another path
    steps = [faults.plan("/accounts/a/sessions/s1", "PUT") for _ in range(4)]
    assert [(s.status, s.phase, s.latency_ms) if s else None for s in steps] == [
        (500, "after", 0),
        (429, "before", 0),
        (None, "after", 5),
        None,  # the sequence is used up and the rate is 0
    ]
    assert from_json({"rate": 1, "statuses": [503], "latencyMs": 7, "phase": "after"}).plan("/x", "GET") == Step(
        503, "after", 7
    )
    assert from_json({"latencyMs": 7}).plan("/x", "GET") == Step(None, "before", 7)


@pytest.mark.parametrize(
    "body",
    [
        {"methods": []},
        {"methods": ["FETCH"]},
        {"methods": "PUT"},
        {"sequence": {}},
        {"sequence": [1]},
        {"sequence": [{"status": 200}]},
        {"sequence": [{"phase": "during"}]},
        {"sequence": [{"latencyMs": -1}]},
        {"sequence": [{}] * 101},
    ],
)
def test_invalid_methods_and_sequences_are_400(body):
    with pytest.raises(ApiError) as error:
        from_json(body)
    assert error.value.status == 400
