"""Fault injection set at run time and by flags; admin routes are never faulted."""

import time

from tests.fixtures.emulator import EmulatorHandle, start_emulator, stop_emulator
from tests.integration.emulator.client import Arr


def test_rate_one_fails_every_service_call_with_retry_after(arr, emulator):
    arr.token()
    emulator.set_faults(rate=1, statuses=[429], retryAfter=7)
    response = arr.put("x", 15)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.content == b"" and response.headers["Content-Length"] == "0"  # the spec's 429: no body
    assert "MS-CV" in response.headers
    assert emulator.truth() == []  # a fault before the call leaves no trace
    emulator.clear_faults()
    assert arr.put("x", 15).status_code == 201


def test_statuses_are_drawn_from_the_configured_set(arr, emulator):
    arr.token()
    emulator.set_faults(rate=1, statuses=[500, 503])
    seen = {arr.get("any").status_code for _ in range(30)}
    assert seen == {500, 503}


def test_partial_rate_fails_some_calls(arr, emulator):
    arr.token()
    emulator.set_faults(rate=0.5, statuses=[500])
    codes = [arr.get("missing").status_code for _ in range(60)]
    assert 5 <= codes.count(500) <= 55
    assert set(codes) == {404, 500}


def test_paths_regex_limits_faults(arr, emulator):
    arr.token()
    emulator.set_faults(rate=1, statuses=[503], paths=r"/:stop$")
    assert arr.put("p", 15).status_code == 201
    assert arr.stop("p").status_code == 503
    assert arr.get("p").json()["status"] == "Starting"


def test_after_phase_applies_the_call_then_fails(arr, emulator):
    arr.token()
    emulator.set_faults(rate=1, statuses=[500], phase="after", paths="/sessions/")
    assert arr.put("ghost-success", 15).status_code == 500
    assert [t["id"] for t in emulator.truth()] == ["ghost-success"]


def test_the_v1_api_and_the_token_service_keep_the_429_error_body(arr, emulator):
    arr.token()
    emulator.set_faults(rate=1, statuses=[429], retryAfter=7)
    for response in (
        arr.call("GET", f"/v1/accounts/{arr.account_id}/sessions"),
        arr.http.get(f"{emulator.url}/accounts/{emulator.account_id}/token", timeout=10),
    ):
        assert response.status_code == 429 and response.headers["Retry-After"] == "7"
        assert response.json()["error"]["code"] == "TooManyRequests"


def test_token_service_can_be_faulted(emulator):
    emulator.set_faults(rate=1, statuses=[429])
    arr = Arr(emulator.url, emulator.account_id, emulator.account_key)
    response = arr.http.get(f"{emulator.url}/accounts/{emulator.account_id}/token")
    assert response.status_code == 429


def test_admin_routes_are_never_faulted(emulator):
    emulator.set_faults(rate=1, statuses=[500])
    assert emulator.truth() == []
    assert emulator.admin("GET", "faults")["rate"] == 1


def test_latency_is_added(arr, emulator):
    arr.token()
    emulator.set_faults(latencyMs=150)
    started = time.monotonic()
    assert arr.get("none").status_code == 404
    assert time.monotonic() - started >= 0.15


def test_invalid_fault_settings_are_400(emulator):
    import requests

    for body in (
        {"rate": 2},
        {"statuses": [200]},
        {"paths": "("},
        {"latencyMs": -1},
        {"phase": "during"},
        {"rate": "x"},
    ):
        response = requests.put(f"{emulator.url}/_emulator/faults", json=body, timeout=10)
        assert response.status_code == 400, body
        assert response.json()["error"]["message"]


def test_fault_flags_on_the_command_line():
    process, url = start_emulator(
        "--fail-rate", "1", "--fail-statuses", "503", "--retry-after", "3", "--fail-paths", "token"
    )
    try:
        handle = EmulatorHandle(url)
        response = Arr(url, handle.account_id, handle.account_key).http.get(f"{url}/accounts/{handle.account_id}/token")
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "3"
        assert handle.admin("GET", "faults")["paths"] == "token"
    finally:
        stop_emulator(process)
