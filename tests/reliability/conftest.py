"""Reliability suite fixtures: the gate's and the sweep's real stacks, reused, not rebuilt.

`gate` (tests/integration/gate) calls the function app in process against Azurite and the
emulator; `sweep_stack` is the sweep tests' Stack (store, ARR clients, a clock that follows the
emulator's virtual clock). `stack` stays the whole local stack of tests/fixtures/stack.py.
"""

from __future__ import annotations

import pytest

from tests.integration.gate.conftest import gate, gate_env  # noqa: F401  (fixtures used by this suite)
from tests.integration.sweep.conftest import Stack, stack_env, to_start_of_test


@pytest.fixture
def sweep_stack(emulator, azurite, table_prefix, store):
    from governor.arr import clients_from_settings
    from governor.settings import load

    now = to_start_of_test(emulator)  # as the sweep tests' stack: clear of midnight on the emulator's clock
    env = stack_env(emulator, azurite, table_prefix)
    arr = clients_from_settings(load(env))
    yield Stack(emulator, store, arr, env, now)
    for client in arr.values():
        client.close()
