from datetime import UTC, datetime, timedelta

import pytest

from governor.arr import wire_2021, wire_v1
from governor.arr.errors import ArrBadResponse, ArrRequestError
from governor.core.model import SessionStatus, VmSize

READY_2021 = {
    "id": "rr-test-id",
    "creationTime": "2022-09-14T01:05:32.4773534\u002b00:00",
    "arrInspectorPort": 55792,
    "handshakePort": 49636,
    "elapsedTimeMinutes": 3,
    "hostname": "h.remoterendering.vm.eastus.mixedreality.azure.com",
    "maxLeaseTimeMinutes": 15,
    "size": "Standard",
    "status": "Ready",
    "teraflops": 8.1,
}
READY_V1 = {
    "message": None,
    "sessionElapsedTime": "00:00:01",
    "sessionHostname": "5018fee8.remoterenderingvm.westeurope.mixedreality.azure.com",
    "sessionId": "e13d2c44-63e0-4591-991e-f9e05e599a93",
    "sessionMaxLeaseTime": "04:00:00",
    "sessionStatus": "Ready",
}


def test_2021_session_normalised():
    s = wire_2021.session(READY_2021, "default", "get", "cv.0")
    assert (s.id, s.account, s.status, s.size) == ("rr-test-id", "default", SessionStatus.READY, VmSize.STANDARD)
    assert (s.elapsed, s.max_lease) == (timedelta(minutes=3), timedelta(minutes=15))
    assert s.created == datetime(2022, 9, 14, 1, 5, 32, 477353, tzinfo=UTC)
    assert (s.arr_inspector_port, s.handshake_port, s.teraflops) == (55792, 49636, 8.1)
    assert s.message is None and s.error_code is None


def test_2021_error_session_carries_code_and_message():
    body = {**READY_2021, "status": "error", "error": {"code": "NoCapacity", "message": "no VM"}}
    s = wire_2021.session(body, "a", "get")
    assert (s.status, s.error_code, s.message) == (SessionStatus.ERROR, "NoCapacity", "no VM")


def test_v1_session_without_size_and_lowercase_status():
    s = wire_v1.session({**READY_V1, "sessionStatus": "ready"}, "default", "get")
    assert s.status is SessionStatus.READY and s.size is None
    assert (s.elapsed, s.max_lease) == (timedelta(seconds=1), timedelta(hours=4))
    assert s.hostname.startswith("5018fee8")


def test_v1_times_to_the_tick_are_read_to_the_microsecond():
    """.NET writes a TimeSpan with 7 fraction digits; the governor refuses that precision in a lease
    it is given, never in ARR's own answer."""
    s = wire_v1.session({**READY_V1, "sessionElapsedTime": "00:00:01.1234567"}, "default", "get")
    assert s.elapsed == timedelta(seconds=1, microseconds=123456)


@pytest.mark.parametrize(
    ("module", "body", "field"),
    [
        (wire_2021, {k: v for k, v in READY_2021.items() if k != "id"}, "'id' is missing"),
        (wire_2021, {**READY_2021, "status": "Hibernating"}, "'status' has unknown value"),
        (wire_2021, {**READY_2021, "size": "Huge"}, "'size' has unknown value"),
        (wire_2021, {**READY_2021, "maxLeaseTimeMinutes": "15"}, "'maxLeaseTimeMinutes' is not an integer"),
        (wire_2021, {**READY_2021, "elapsedTimeMinutes": True}, "'elapsedTimeMinutes' is not an integer"),
        (wire_2021, {**READY_2021, "creationTime": "yesterday"}, "'creationTime' is not an ISO 8601"),
        (wire_2021, ["not", "an", "object"], "expected a JSON object"),
        (wire_v1, {**READY_V1, "sessionMaxLeaseTime": "24:00:00"}, "'sessionMaxLeaseTime' is not a TimeSpan"),
        (wire_v1, {k: v for k, v in READY_V1.items() if k != "sessionStatus"}, "'sessionStatus' is missing"),
    ],
)
def test_unexpected_bodies_raise_bad_response_naming_the_field(module, body, field):
    with pytest.raises(ArrBadResponse) as caught:
        module.session(body, "default", "get", "cv.7")
    assert field in str(caught.value)
    assert caught.value.ms_cv == "cv.7" and "cv.7" in str(caught.value)


def test_page_requires_sessions_array_and_returns_next_link():
    sessions, link = wire_2021.page({"sessions": [READY_2021], "@nextLink": "/x?page=2"}, "a", "list")
    assert [s.id for s in sessions] == ["rr-test-id"] and link == "/x?page=2"
    with pytest.raises(ArrBadResponse, match="'sessions'"):
        wire_2021.page({"value": []}, "a", "list")


def test_2021_requests():
    create = wire_2021.create("acc", "sid-1", VmSize.PREMIUM, timedelta(hours=1, seconds=1))
    assert (create.method, create.path) == ("PUT", "/accounts/acc/sessions/sid-1")
    assert create.params == {"api-version": "2021-01-01"}
    # rounded up: a lease of 60 min 1 s must not be cut to 60 min
    assert create.body == {"maxLeaseTimeMinutes": 61, "size": "Premium"}
    assert wire_2021.update("acc", "s", timedelta(minutes=90)).body == {"maxLeaseTimeMinutes": 90}
    assert wire_2021.stop("acc", "s").path == "/accounts/acc/sessions/s/:stop"


def test_v1_requests():
    create = wire_v1.create("acc", VmSize.STANDARD, timedelta(hours=4), ["https://models/x"])
    assert (create.method, create.path, create.idempotent) == ("POST", "/v1/accounts/acc/sessions/create", False)
    assert create.body == {"maxLeaseTime": "04:00:00", "models": ["https://models/x"], "size": "standard"}
    assert wire_v1.update("acc", "s", timedelta(days=1, hours=2)).body == {"maxLeaseTime": "1.02:00:00"}
    assert wire_v1.get("acc", "s").path == "/v1/accounts/acc/sessions/s/properties"
    assert (wire_v1.stop("acc", "s").method, wire_v1.stop("acc", "s").path) == ("DELETE", "/v1/accounts/acc/sessions/s")


@pytest.mark.parametrize("bad_id", ["", "../x", "a/b", "a?b=1", "x" * 257, None])
def test_session_ids_are_validated_before_any_request(bad_id):
    with pytest.raises(ArrRequestError, match="session_id"):
        wire_2021.get("acc", bad_id)


@pytest.mark.parametrize("lease", [timedelta(0), timedelta(minutes=-5), 60])
def test_leases_must_be_positive_durations(lease):
    with pytest.raises(ArrRequestError, match="lease"):
        wire_v1.create("acc", VmSize.STANDARD, lease)
