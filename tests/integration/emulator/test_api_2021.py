"""The 2021-01-01 API: the recorded lifecycle (field order and absences), idempotent PUT,
paging, and every documented error."""

import re

import pytest

STARTING_KEYS = ["id", "creationTime", "elapsedTimeMinutes", "maxLeaseTimeMinutes", "size", "status"]
READY_KEYS = [
    "id",
    "creationTime",
    "arrInspectorPort",
    "handshakePort",
    "elapsedTimeMinutes",
    "hostname",
    "maxLeaseTimeMinutes",
    "size",
    "status",
    "teraflops",
]
STOPPED_KEYS = [*STARTING_KEYS, "teraflops"]
# .NET ticks, trailing zeros dropped, as in the recordings: ".4773534" (A), ".214787" (D)
CREATION_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,6}[1-9])?\+00:00$")
SUPPORTED = "2021-01-01-preview, 2021-01-01, 2021-08-01-preview"  # (A), 2022


def test_recorded_lifecycle(arr, emulator):
    created = arr.put("rr-test-id", 15)
    assert created.status_code == 201
    body = created.json()
    assert list(body) == STARTING_KEYS
    assert body["status"] == "Starting"
    assert body["elapsedTimeMinutes"] == 0
    assert CREATION_TIME.match(body["creationTime"])
    assert created.headers["api-supported-versions"] == SUPPORTED
    assert "Cache-Control" not in created.headers

    polled = arr.get("rr-test-id")
    assert polled.json() == body
    assert polled.headers["Cache-Control"] == "no-store, no-cache"
    assert polled.headers["Pragma"] == "no-cache"

    emulator.advance(5)
    ready = arr.get("rr-test-id").json()
    assert list(ready) == READY_KEYS
    assert ready["status"] == "Ready"
    assert ready["teraflops"] == 8.1
    assert ready["creationTime"] == body["creationTime"]

    patched = arr.patch("rr-test-id", 20)
    assert patched.status_code == 200
    assert patched.json() == {**ready, "maxLeaseTimeMinutes": 20}

    assert arr.list_all() == [patched.json()]

    stopped = arr.stop("rr-test-id")
    assert stopped.status_code == 204
    assert stopped.content == b""
    assert stopped.headers["api-supported-versions"] == SUPPORTED

    final = arr.get("rr-test-id").json()
    assert list(final) == STOPPED_KEYS
    assert final["status"] == "Stopped"
    assert final["teraflops"] == 8.1
    assert "error" not in final
    assert arr.list_all() == []


@pytest.mark.parametrize("version", ["2021-01-01-preview", "2021-08-01-preview"])
def test_preview_api_versions_are_accepted_with_the_same_shapes(arr, emulator, version):
    response = arr.call(
        "PUT",
        f"/accounts/{arr.account_id}/sessions/preview?api-version={version}",
        json={"maxLeaseTimeMinutes": 5, "size": "Premium"},
    )
    assert response.status_code == 201
    assert list(response.json()) == STARTING_KEYS
    assert response.json()["size"] == "Premium"
    assert response.headers["api-supported-versions"] == SUPPORTED
    emulator.advance(5)
    ready = arr.call("GET", f"/accounts/{arr.account_id}/sessions/preview?api-version={version}")
    assert list(ready.json()) == READY_KEYS
    assert emulator.truth()[0]["apiVersion"] == version


@pytest.mark.parametrize(
    ("query", "code"),
    [("", "MissingApiVersionParameter"), ("?api-version=2020-01-01", "UnsupportedApiVersion")],
)
def test_missing_or_unsupported_api_version(arr, query, code):
    response = arr.call("GET", f"/accounts/{arr.account_id}/sessions{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_put_is_idempotent_and_conflicts_on_other_settings(arr, emulator):
    assert arr.put("same", 30).status_code == 201
    emulator.advance(60)
    retry = arr.put("same", 30)
    assert retry.status_code == 200
    assert retry.json()["status"] == "Ready"
    conflict = arr.put("same", 31)
    assert conflict.status_code == 409
    assert conflict.json() == {
        "error": {"code": "Conflict", "message": "A resource already exists under the given ID."}
    }
    assert arr.put("same", 30, "Premium").status_code == 409
    assert len(emulator.truth()) == 1


def test_negative_lease_gives_the_recorded_400(arr):
    response = arr.put("rr-test-id", -4)
    assert response.status_code == 400
    assert (
        response.content
        == b'{"error":{"code":"BadRequest","message":"The maxLeaseTimeMinutes value cannot be negative."}}'
    )
    assert response.headers["api-supported-versions"] == SUPPORTED


@pytest.mark.parametrize("minutes", [0, 1440])
def test_create_lease_bounds_are_inclusive(arr, minutes):
    assert arr.put(f"lease-{minutes}", minutes).status_code == 201


def test_create_lease_over_1440_is_400(arr):
    response = arr.put("too-long", 1441)
    assert response.status_code == 400
    assert "maxLeaseTimeMinutes" in response.json()["error"]["message"]


@pytest.mark.parametrize("minutes", [15, 10, 1440, 5000])
def test_patch_not_larger_or_too_long_is_422(arr, minutes):
    arr.put("s", 15)
    response = arr.patch("s", minutes)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "UnprocessableEntity"
    assert arr.get("s").json()["maxLeaseTimeMinutes"] == 15


def test_patch_of_a_stopped_session_is_422(arr):
    arr.put("s", 15)
    arr.stop("s")
    assert arr.patch("s", 30).status_code == 422


@pytest.mark.parametrize("method", ["GET", "PATCH", "STOP"])
def test_unknown_session_is_404_without_a_body(arr, method):
    """The spec's examples give the 404 no body."""
    response = {
        "GET": lambda: arr.get("ghost"),
        "PATCH": lambda: arr.patch("ghost", 30),
        "STOP": lambda: arr.stop("ghost"),
    }[method]()
    assert response.status_code == 404
    assert response.content == b"" and response.headers["Content-Length"] == "0"
    assert "Content-Type" not in response.headers
    assert response.headers["api-supported-versions"] == SUPPORTED and "MS-CV" in response.headers


@pytest.mark.parametrize("sid", ["a" * 257, "bad.id", "sp ace"])
def test_invalid_session_ids_are_400(arr, sid):
    assert arr.put(sid).status_code == 400


def test_session_ids_are_case_sensitive(arr):
    arr.put("Case", 15)
    assert arr.get("case").status_code == 404
    assert arr.put("case", 20).status_code == 201


def test_list_pages_with_absolute_next_link(arr, emulator):
    ids = emulator.bulk(250, idPrefix="bulk-", leaseMinutes=60)
    first = arr.call("GET", arr.session_path()).json()
    assert len(first["sessions"]) == 100
    assert first["@nextLink"].startswith(f"{arr.url}/accounts/{arr.account_id}/sessions?")
    assert "api-version=2021-01-01" in first["@nextLink"]
    second = arr.http.get(first["@nextLink"], headers={"Authorization": f"Bearer {arr.token()}"}).json()
    third = arr.http.get(second["@nextLink"], headers={"Authorization": f"Bearer {arr.token()}"}).json()
    assert (len(second["sessions"]), len(third["sessions"])) == (100, 50)
    assert "@nextLink" not in third
    assert [s["id"] for s in arr.list_all()] == ids


def test_list_skips_sessions_stopped_between_pages(arr, emulator):
    ids = emulator.bulk(150, idPrefix="p-")
    first = arr.call("GET", arr.session_path()).json()
    for sid in ids[100:120]:
        arr.stop(sid)
    rest = arr.http.get(first["@nextLink"], headers={"Authorization": f"Bearer {arr.token()}"}).json()
    assert [s["id"] for s in rest["sessions"]] == ids[120:]


def test_bad_skip_token_is_400(arr):
    response = arr.call("GET", arr.session_path() + "&$skipToken=abc")
    assert response.status_code == 400


def test_stop_while_starting_is_stopped_without_billing(arr, emulator):
    arr.put("early", 15)
    assert arr.stop("early").status_code == 204
    emulator.advance(600)
    body = arr.get("early").json()
    assert body["status"] == "Stopped"
    assert "teraflops" not in body  # it never reached Ready
    (truth,) = emulator.truth()
    assert truth["billedSeconds"] == 0
    assert truth["readyAt"] is None


def test_v1_and_2021_see_the_same_sessions(arr, emulator):
    sid = arr.call(
        "POST", f"/v1/accounts/{arr.account_id}/sessions/create", json={"maxLeaseTime": "0:30:00", "size": "standard"}
    ).json()["sessionId"]
    assert arr.get(sid).json()["maxLeaseTimeMinutes"] == 30
    assert emulator.truth()[0]["apiVersion"] == "v1"
