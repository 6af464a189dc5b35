"""Throttling, 5xx bursts, timeouts and the retry rules of each operation, against the emulator."""

import time
from datetime import timedelta

import pytest

from governor.arr.errors import ArrThrottled, ArrUnavailable
from governor.core.model import VmSize
from tests.integration.arr.conftest import clear_faults_after

SESSIONS = r"/sessions"
V1_CREATE = r"/v1/accounts/[^/]+/sessions/create"


def calls(emulator, key: str) -> int:
    return emulator.stats()["requests"].get(key, 0)


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_429_waits_for_retry_after_then_succeeds(make_client, emulator):
    arr = make_client()
    arr.list()  # token fetched before the faults start
    emulator.set_faults(rate=1.0, statuses=[429], retryAfter=1, paths=SESSIONS)
    timer = clear_faults_after(emulator, 0.3)
    started = time.monotonic()
    assert arr.list() == []
    timer.join()
    assert time.monotonic() - started >= 0.95  # waited for Retry-After, not only the short backoff


def test_retry_after_beyond_the_budget_gives_up_at_once_with_a_typed_error(make_client, emulator):
    arr = make_client(retry_total=2)
    emulator.set_faults(rate=1.0, statuses=[429], retryAfter=60)
    started = time.monotonic()
    with pytest.raises(ArrThrottled) as caught:
        arr.list()
    assert emulator.stats()["total"] == 1  # asked once, then gave up: no backoff retries up to the budget
    assert time.monotonic() - started < 30  # and did not sleep out the 60 s Retry-After
    error = caught.value
    assert (error.status, error.retry_after, error.transient) == (429, 60, True) and error.ms_cv


def test_burst_of_500_and_503_is_ridden_out(make_client, emulator):
    arr = make_client()
    arr.list()
    emulator.set_faults(rate=1.0, statuses=[500, 503], retryAfter=0, paths=SESSIONS)
    clear_faults_after(emulator, 0.6)
    session = arr.create(VmSize.STANDARD, timedelta(minutes=20), session_id="burst")
    assert session.id == "burst"
    assert calls(emulator, "PUT /accounts/{account}/sessions/{session}") > 1


def test_persistent_5xx_stops_within_the_retry_budget(make_client, emulator):
    arr = make_client(retry_total=1.5)
    emulator.set_faults(rate=1.0, statuses=[500], retryAfter=0)
    started = time.monotonic()
    with pytest.raises(ArrUnavailable) as caught:
        arr.list()
    # the budget is 1.5 s; the account default is 30 s. The slack is for a loaded CI box.
    assert time.monotonic() - started < 10
    assert caught.value.status == 500 and caught.value.code == "InternalServerError" and caught.value.ms_cv


def test_read_timeouts_are_retried_then_reported(make_client, emulator):
    arr = make_client(timeout=0.2, retry_total=1)
    arr.list()
    emulator.set_faults(latencyMs=600, paths=SESSIONS)
    started = time.monotonic()
    with pytest.raises(ArrUnavailable, match="timed out") as caught:
        arr.list()
    assert time.monotonic() - started < 10  # a 1 s budget (30 s is the default); slack for a loaded CI box
    assert caught.value.transient
    assert calls(emulator, "GET /accounts/{account}/sessions") >= 3  # first call, then at least one retry


def test_connection_refused_is_unavailable_and_not_indeterminate(emulator):
    from governor.arr.accounts import make_account
    from governor.arr.client import ArrClient

    account = make_account("default", emulator.account_id, "http://127.0.0.1:9", key="k", retry_total=0.5)
    with ArrClient(account) as arr, pytest.raises(ArrUnavailable) as caught:
        arr.list()
    assert not caught.value.indeterminate


def test_v1_create_is_not_resent_after_a_timeout(make_client, emulator):
    arr = make_client("v1", timeout=0.3, retry_total=5)
    arr.list()
    emulator.set_faults(latencyMs=800, paths=V1_CREATE)
    with pytest.raises(ArrUnavailable) as caught:
        arr.create(VmSize.STANDARD, timedelta(minutes=20))
    assert caught.value.indeterminate and "may have been processed" in str(caught.value)
    _wait_for(lambda: emulator.truth())  # the emulator finishes the request it received
    assert calls(emulator, "POST /v1/accounts/{account}/sessions/create") == 1
    assert len(emulator.truth()) == 1  # the caller must reconcile: it exists


def test_v1_create_is_not_resent_after_a_500(make_client, emulator):
    arr = make_client("v1")
    emulator.set_faults(rate=1.0, statuses=[500], phase="after", paths=V1_CREATE)
    with pytest.raises(ArrUnavailable) as caught:
        arr.create(VmSize.STANDARD, timedelta(minutes=20))
    assert caught.value.status == 500
    assert calls(emulator, "POST /v1/accounts/{account}/sessions/create") == 1
    assert len(emulator.truth()) == 1


def test_v1_create_is_retried_on_429_and_503_which_create_nothing(make_client, emulator):
    arr = make_client("v1")
    arr.list()
    emulator.set_faults(rate=1.0, statuses=[429, 503], retryAfter=0, paths=V1_CREATE)
    clear_faults_after(emulator, 0.5)
    session = arr.create(VmSize.STANDARD, timedelta(minutes=20))
    assert calls(emulator, "POST /v1/accounts/{account}/sessions/create") > 1
    assert [s["id"] for s in emulator.truth()] == [session.id]


def test_2021_create_is_resent_safely_after_a_500_that_created_the_session(make_client, emulator):
    arr = make_client("2021-01-01")
    arr.list()
    emulator.set_faults(rate=1.0, statuses=[500], phase="after", paths=SESSIONS)
    clear_faults_after(emulator, 0.3)
    session = arr.create(VmSize.STANDARD, timedelta(minutes=20), session_id="put-twice")
    assert session.id == "put-twice"
    assert calls(emulator, "PUT /accounts/{account}/sessions/{session}") > 1
    assert len(emulator.truth()) == 1


@pytest.mark.parametrize("version", ["2021-01-01", "v1"])
def test_ten_lists_succeed_while_30_percent_of_calls_fail(make_client, emulator, version):
    # A generous retry budget: on a loaded CI box slow answers eat into it, and the point here is
    # that faults are ridden out, not how fast (the budget's own limits are tested above).
    arr = make_client(version, retry_total=60.0)
    emulator.bulk(3)
    emulator.set_faults(rate=0.3, statuses=[429, 500, 503], retryAfter=0)
    lists = 0
    for _ in range(5):  # 0.7**11 (no fault at all in a batch) is 2%: repeat until one was ridden out
        results = [arr.list() for _ in range(10)]
        lists += 10
        assert all(len(found) == 3 for found in results)
        if emulator.stats()["total"] > lists + 1:  # + the token fetch: at least one call was retried
            break
    else:
        raise AssertionError("no fault was injected in 50 lists; are faults on?")
