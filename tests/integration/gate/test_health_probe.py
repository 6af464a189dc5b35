"""/api/health's use case answers within its probe bound, whatever ARR does and however many accounts."""

import time
from datetime import timedelta

import pytest

from governor.arr.accounts import make_account
from governor.arr.client import ArrClient
from governor.core.model import SweepHealth, utcnow
from governor.service.health import health

SCHEDULE = "0 * * * * *"


@pytest.fixture
def accounts(emulator):
    built = []

    def build(*names: str) -> dict[str, ArrClient]:
        for name in names:
            account = make_account(
                name,
                emulator.account_id,
                emulator.url,
                sts=emulator.url,
                key=emulator.account_key,
                timeout=10,
                retry_total=30,  # what a slow probe used to wait out
            )
            built.append(ArrClient(account))
        return {client.account: client for client in built[-len(names) :]}

    yield build
    for client in built:
        client.close()
    emulator.clear_faults()


def fresh_sweep(store) -> None:
    finished = utcnow()
    store.record_sweep(SweepHealth(finished - timedelta(seconds=1), finished, "ok").to_row())


def check(store, arr, probe_seconds):
    started = time.monotonic()
    healthy, report = health(store, arr, utcnow, SCHEDULE, 3, "test", probe_seconds=probe_seconds)
    return healthy, report, time.monotonic() - started


def test_all_answering_is_healthy(store, accounts):
    fresh_sweep(store)
    healthy, report, _ = check(store, accounts("a", "b"), 2)
    assert healthy and report["arr"] == {"a": "reachable", "b": "reachable"} and report["storage"] == "reachable"


def test_a_failing_arr_is_unhealthy_at_once(store, accounts, emulator):
    fresh_sweep(store)
    arr = accounts("default")
    emulator.set_faults(rate=1.0, statuses=[503], retryAfter=0, paths="/sessions")
    healthy, report, took = check(store, arr, 2)
    assert not healthy and report["arr"]["default"] == "unreachable (ArrUnavailable)"
    assert took < 1.5  # one request, not 30 s of retries


def test_a_hanging_arr_is_cut_off_at_the_bound(store, accounts, emulator):
    fresh_sweep(store)
    arr = accounts("default")
    arr["default"].list()  # token cached; the list itself hangs
    emulator.set_faults(latencyMs=4000, paths="/sessions")
    healthy, report, took = check(store, arr, 0.5)
    assert not healthy and report["arr"]["default"].startswith("unreachable")
    assert report["lastSweep"]["stale"] is False  # storage still answered
    assert took < 1.5


def test_accounts_are_probed_in_parallel(store, accounts, emulator):
    fresh_sweep(store)
    arr = accounts("a", "b", "c")
    for client in arr.values():
        client.list()
    emulator.set_faults(latencyMs=1000, paths="/sessions")
    healthy, report, took = check(store, arr, 2.5)
    assert healthy, report
    assert took < 2.2  # one after the other would take 3 s
