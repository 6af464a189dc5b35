"""Fixtures of the client library's tests: a scripted gate (a real local HTTP server) and clients of it."""

from __future__ import annotations

import pytest
from governor_client import GovernorClient, RetryPolicy

from tests.clients.scripted_gate import ScriptedGate

CALLER_KEY = "caller-key-that-must-never-show"
FAST = RetryPolicy(attempts=4, backoff=0.2, max_backoff=1.0, max_wait=10.0, jitter=0.25)


@pytest.fixture
def scripted():
    gate = ScriptedGate().start()
    try:
        yield gate
    finally:
        gate.close()


@pytest.fixture
def client(scripted) -> GovernorClient:
    return GovernorClient(scripted.url, CALLER_KEY, "demo", function_key="fn-key", timeout=5, retry=FAST)


# The sweep would race the library for extensions and idle stops: these tests leave it to the
# client alone (its next run is next New Year).
NEVER = "0 0 0 1 1 *"


@pytest.fixture(scope="module")
def governor(tmp_path_factory):
    """The real local stack (Azurite, the ARR emulator at x60, the function host), as `make run`
    starts it: the connect route hands out tokens of the emulator's development connect identity."""
    from tests.fixtures.stack import start_stack

    with pytest.MonkeyPatch.context() as env:
        env.delenv("ARR_CONNECT_AUTH", raising=False)
        running = start_stack(tmp_path_factory.mktemp("governor") / "data", "--sweep-schedule", NEVER)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def demo(governor) -> GovernorClient:
    from tests.fixtures.stack import FUNCTION_KEY

    key = governor.keys["demo"]
    return GovernorClient(governor.base_url, key, "demo", function_key=FUNCTION_KEY["x-functions-key"], timeout=30)
