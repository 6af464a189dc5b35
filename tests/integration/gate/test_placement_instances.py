"""Two gate instances placing at once: once either has seen ARR run out of servers in a region, neither
sends a session of that size there again within GOVERNOR_CAPACITY_WINDOW_MINUTES.

Each instance has its own store and ARR clients (as two Functions workers would); they share only
Azurite's tables and the emulator. The instances' clock is injected, to cross the window.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from governor.bootstrap import build_context
from governor.core.model import MICROS, PlacementAccount, ProjectPolicy, VmSize, utcnow
from governor.service.gate import Caller, GateService
from governor.settings import load
from tests.fixtures.regions import NAMES, servers

WINDOW = timedelta(minutes=10)
BODY = {"size": "Standard", "maxLeaseTime": 30}


class Clock:
    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now


@pytest.fixture
def instances(regions_env):
    clock = Clock()
    contexts = [build_context(load(regions_env), clock) for _ in range(2)]
    gates = [GateService(c.store, c.arr, clock, c.reads, capacity_window=WINDOW) for c in contexts]
    yield gates, clock
    for context in contexts:
        context.store.flush()  # deferred activations, before Azurite goes
        for client in context.arr.values():
            client.close()


def created_in(emulator) -> Counter:
    """Every create ARR ever took, per region (failed ones too)."""
    return Counter(NAMES[s["account"]] for s in emulator.truth())


def test_neither_instance_sends_another_request_to_a_full_region_within_the_window(instances, regions_emulator):
    (first, second), clock = instances
    servers(regions_emulator, default=0)
    first.store.put_project(
        ProjectPolicy(
            name="alpha",
            allowed_sizes=frozenset({VmSize.STANDARD}),
            rates={VmSize.STANDARD: 6 * MICROS},
            daily_budget=1000 * MICROS,
            max_concurrent=20,
            placement=(PlacementAccount("default"), PlacementAccount("japaneast")),
        )
    )
    caller = Caller(key=first.store.rotate_key("alpha"))

    doomed = first.request("alpha", caller, BODY)
    assert doomed["account"] == "default"
    regions_emulator.advance(6)
    assert second.get("alpha", caller, doomed["sessionId"])["error"]["code"] == "capacity"  # the other one saw it

    with ThreadPoolExecutor(max_workers=8) as pool:  # both place at once, four requests each
        placed = list(pool.map(lambda gate: gate.request("alpha", caller, BODY), [first, second] * 4))
    assert {answer["account"] for answer in placed} == {"japaneast"}
    assert created_in(regions_emulator) == {"default": 1, "japaneast": 8}

    clock.now += WINDOW - timedelta(seconds=1)
    assert first.request("alpha", caller, BODY)["account"] == "japaneast"  # still within the window
    clock.now += timedelta(seconds=2)
    assert second.request("alpha", caller, BODY)["account"] == "default"  # past it: ARR may have servers again
    assert created_in(regions_emulator) == {"default": 2, "japaneast": 9}
