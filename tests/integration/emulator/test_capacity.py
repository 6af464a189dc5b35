"""Servers per account and size: creates beyond them are accepted and end in Error while Starting."""

import pytest
import requests

from tests.fixtures.emulator import EmulatorHandle, start_emulator, stop_emulator
from tests.integration.emulator.client import Arr

CAPACITY_MESSAGE = "There is not enough capacity to start a {} session. Try again later."
ACCOUNT_A = "0a000000-0000-4000-8000-00000000000a"
ACCOUNT_B = "0b000000-0000-4000-8000-00000000000b"
KEY = "capacity-test-key"


def set_capacity(emulator: EmulatorHandle, limits: dict) -> dict:
    return emulator.admin("PUT", "capacity", {"limits": limits})


def servers(emulator: EmulatorHandle, account: str, size: str = "Standard") -> dict:
    return emulator.admin("GET", "capacity")["accounts"][account][size]


def v1_create(arr: Arr, size: str = "standard") -> str:
    path = f"/v1/accounts/{arr.account_id}/sessions/create"
    response = arr.call("POST", path, json={"maxLeaseTime": "1:00:00", "size": size})
    assert response.status_code == 202
    return response.json()["sessionId"]


def v1_properties(arr: Arr, sid: str) -> dict:
    return arr.call("GET", f"/v1/accounts/{arr.account_id}/sessions/{sid}/properties").json()


def test_a_create_beyond_the_servers_is_accepted_and_ends_in_error_unbilled(arr, emulator):
    set_capacity(emulator, {emulator.account_id: {"Standard": 2}})
    assert [arr.put(sid, 15).status_code for sid in ("a", "b", "c")] == [201, 201, 201]
    assert arr.get("c").json()["status"] == "Starting"  # the failure shows where ARR shows it: on leaving Starting
    assert servers(emulator, emulator.account_id) == {"servers": 2, "inUse": 2}
    emulator.advance(5)
    assert [arr.get(sid).json()["status"] for sid in ("a", "b")] == ["Ready", "Ready"]
    emulator.advance(600)
    failed = arr.get("c").json()
    assert failed["status"] == "Error"
    assert failed["error"] == {"code": "InsufficientCapacity", "message": CAPACITY_MESSAGE.format("Standard")}
    assert failed["elapsedTimeMinutes"] == 0
    assert "hostname" not in failed and "teraflops" not in failed
    assert [s["id"] for s in arr.list_all()] == ["a", "b"]
    billed = {t["id"]: t["billedSeconds"] for t in emulator.truth()}
    assert billed["c"] == 0 and billed["a"] > 0


def test_stopping_or_expiry_frees_a_server(arr, emulator):
    set_capacity(emulator, {emulator.account_id: {"Standard": 2}})
    arr.put("a", 15)
    arr.put("short", 1)
    emulator.advance(5)
    assert arr.put("refused", 15).status_code == 201
    assert arr.stop("a").status_code == 204
    assert servers(emulator, emulator.account_id)["inUse"] == 1  # the refused one never held a server
    arr.put("after-stop", 15)
    emulator.advance(60)  # "short" expires; "after-stop" is Ready
    assert arr.get("short").json()["status"] == "Expired"
    arr.put("after-expiry", 15)
    emulator.advance(5)
    statuses = {sid: arr.get(sid).json()["status"] for sid in ("refused", "after-stop", "after-expiry")}
    assert statuses == {"refused": "Error", "after-stop": "Ready", "after-expiry": "Ready"}


def test_stopping_a_starting_session_frees_its_server(arr, emulator):
    set_capacity(emulator, {emulator.account_id: {"Standard": 1}})
    arr.put("first", 15)
    arr.stop("first")
    arr.put("second", 15)
    emulator.advance(5)
    assert arr.get("second").json()["status"] == "Ready"


def test_premium_is_unaffected_by_standard_capacity_of_zero(arr, emulator):
    set_capacity(emulator, {emulator.account_id: {"Standard": 0}})
    arr.put("std", 15)
    arr.put("prem", 15, size="Premium")
    emulator.advance(5)
    assert arr.get("std").json()["error"]["code"] == "InsufficientCapacity"
    assert arr.get("prem").json()["status"] == "Ready"
    assert servers(emulator, emulator.account_id, "Premium") == {"servers": None, "inUse": 1}


def test_an_identical_put_retry_keeps_its_server(arr, emulator):
    set_capacity(emulator, {emulator.account_id: {"Standard": 1}})
    assert arr.put("only", 15).status_code == 201
    assert arr.put("only", 15).status_code == 200
    emulator.advance(5)
    assert arr.get("only").json()["status"] == "Ready"


def test_v1_creates_share_the_servers_and_report_the_message(arr, emulator):
    set_capacity(emulator, {emulator.account_id: {"Standard": 1}})
    arr.put("modern", 15)
    sid = v1_create(arr)
    premium = v1_create(arr, "premium")
    emulator.advance(5)
    failed = v1_properties(arr, sid)
    assert failed["sessionStatus"] == "Error"
    assert failed["message"] == CAPACITY_MESSAGE.format("Standard")
    assert failed["sessionElapsedTime"] == "00:00:00"
    assert failed["sessionHostname"] is None
    assert v1_properties(arr, premium)["sessionStatus"] == "Ready"


def test_full_capacity_leaves_the_capacity_failure_fault_for_a_later_create(arr, emulator):
    set_capacity(emulator, {emulator.account_id: {"Standard": 0}})
    emulator.set_faults(capacityFailures=1)
    arr.put("full", 15)
    assert emulator.admin("GET", "faults")["capacityFailures"] == 1
    arr.put("faulted", 15, size="Premium")
    assert emulator.admin("GET", "faults")["capacityFailures"] == 0


def test_capacity_round_trips_and_every_account_takes_the_star_limit(emulator):
    body = set_capacity(emulator, {"*": {"premium": 3, "Standard": None}, emulator.account_id.upper(): {"Standard": 1}})
    assert body["limits"] == {"*": {"Premium": 3}, emulator.account_id: {"Standard": 1}}
    assert body["accounts"] == {
        emulator.account_id: {"Standard": {"servers": 1, "inUse": 0}, "Premium": {"servers": 3, "inUse": 0}}
    }
    assert emulator.admin("GET", "capacity") == body
    assert emulator.admin("PUT", "capacity", body) == body  # the GET's body is a valid PUT
    assert set_capacity(emulator, {})["accounts"][emulator.account_id]["Standard"]["servers"] is None


def test_reset_returns_to_unlimited_without_flags(emulator):
    set_capacity(emulator, {"*": {"Standard": 0}})
    emulator.reset()
    assert emulator.admin("GET", "capacity")["limits"] == {}


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({}, "limits"),
        ({"limits": [1]}, "limits"),
        ({"limits": {"0c000000-0000-4000-8000-00000000000c": {"Standard": 1}}}, "0c000000-0000-4000-8000-00000000000c"),
        ({"limits": {"*": 2}}, "limits.*"),
        ({"limits": {"*": {"Basic": 1}}}, "Basic"),
        ({"limits": {"*": {"Standard": -1}}}, "limits.*.Standard"),
        ({"limits": {"*": {"Standard": 1.5}}}, "limits.*.Standard"),
        ({"limits": {"*": {"Standard": True}}}, "limits.*.Standard"),
        ({"limits": {"*": {"Standard": "2"}}}, "limits.*.Standard"),
        ({"limits": {"*": {"Standard": 10**7}}}, "limits.*.Standard"),
    ],
)
def test_bad_capacity_is_400_naming_the_field(emulator, body, names):
    set_capacity(emulator, {"*": {"Premium": 4}})
    response = requests.put(f"{emulator.url}/_emulator/capacity", json=body, timeout=10)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BadRequest"
    assert names in error["message"]
    assert emulator.admin("GET", "capacity")["limits"] == {"*": {"Premium": 4}}  # unchanged


def test_capacity_route_takes_get_and_put_only(emulator):
    response = requests.delete(f"{emulator.url}/_emulator/capacity", timeout=10)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, PUT"


@pytest.fixture(scope="module")
def two_accounts():
    process, url = start_emulator(
        *("--account", f"{ACCOUNT_A}:{KEY}", "--account", f"{ACCOUNT_B}:{KEY}"),
        *("--capacity", f"{ACCOUNT_A.upper()}:standard=1", "--capacity", "*:Premium=0", "--capacity", "*:Standard=5"),
    )
    try:
        yield EmulatorHandle(url, account_id=ACCOUNT_A, account_key=KEY)
    finally:
        stop_emulator(process)


def test_flags_set_capacity_per_account_and_reset_returns_to_them(two_accounts):
    two_accounts.reset()
    expected = {"*": {"Premium": 0, "Standard": 5}, ACCOUNT_A: {"Standard": 1}}
    assert two_accounts.admin("GET", "capacity")["limits"] == expected
    set_capacity(two_accounts, {})
    two_accounts.reset()
    body = two_accounts.admin("GET", "capacity")
    assert body["limits"] == expected
    assert body["accounts"][ACCOUNT_B]["Standard"] == {"servers": 5, "inUse": 0}


def test_one_full_account_leaves_another_alone(two_accounts):
    two_accounts.reset()
    a, b = Arr(two_accounts.url, ACCOUNT_A, KEY), Arr(two_accounts.url, ACCOUNT_B, KEY)
    for arr in (a, b):
        arr.put("one", 15)
        arr.put("two", 15)
    two_accounts.advance(5)
    assert [a.get(sid).json()["status"] for sid in ("one", "two")] == ["Ready", "Error"]
    assert [b.get(sid).json()["status"] for sid in ("one", "two")] == ["Ready", "Ready"]
    capacity = two_accounts.admin("GET", "capacity")["accounts"]
    assert capacity[ACCOUNT_A]["Standard"] == {"servers": 1, "inUse": 1}
    assert capacity[ACCOUNT_B]["Standard"] == {"servers": 5, "inUse": 2}


def test_capacity_is_not_in_the_state_file_but_the_servers_in_use_are(tmp_path):
    state = str(tmp_path / "state.json")
    process, url = start_emulator("--state", state, "--capacity", "*:Standard=1")
    try:
        handle = EmulatorHandle(url)
        Arr(url, handle.account_id, handle.account_key).put("kept", 60)
        set_capacity(handle, {"*": {"Standard": 3}})
    finally:
        stop_emulator(process)
    process, url = start_emulator("--state", state, "--capacity", "*:Standard=1")
    try:
        handle = EmulatorHandle(url)
        assert servers(handle, handle.account_id) == {"servers": 1, "inUse": 1}  # the flag again, not the PUT
        arr = Arr(url, handle.account_id, handle.account_key)
        arr.put("after-restart", 60)
        handle.advance(5)
        assert arr.get("after-restart").json()["status"] == "Error"
    finally:
        stop_emulator(process)
