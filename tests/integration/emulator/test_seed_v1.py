"""Every example of the seed document (v1 API) replayed verbatim: same method, URL shape,
headers (PowerShell's -ContentType and -Headers) and the very same single-quoted bodies."""

import re

import requests

MS_CV = re.compile(r"^[A-Za-z0-9+/]{22}\.\d+$")
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _token(url, account_id, account_key):
    # $webResponse = Invoke-WebRequest -Uri "https://sts.mixedreality.azure.com/accounts/$accountId/token"
    #   -Method Get -ContentType "application/json" -Headers @{ Authorization = "Bearer ${accountId}:$accountKey" }
    response = requests.get(
        f"{url}/accounts/{account_id}/token",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {account_id}:{account_key}"},
        timeout=10,
    )
    assert response.status_code == 200
    assert MS_CV.match(response.headers["MS-CV"])
    return response.json()["AccessToken"]


def test_seed_walkthrough_verbatim(emulator):
    end_point, account_id = emulator.url, emulator.account_id
    token = _token(end_point, account_id, emulator.account_key)
    auth = {"Authorization": f"Bearer {token}"}

    # Create
    response = requests.post(
        f"{end_point}/v1/accounts/{account_id}/sessions/create",
        headers={"Content-Type": "application/json", **auth},
        data="{ 'maxLeaseTime': '4:0:0', 'models': [], 'size': 'standard' }",
        timeout=10,
    )
    assert response.status_code == 202
    assert MS_CV.match(response.headers["MS-CV"])
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert list(response.json()) == ["sessionId"]
    session_id = response.json()["sessionId"]
    assert GUID.match(session_id)
    assert response.headers["Location"] == f"accounts/{account_id}/sessions/{session_id}"

    # Update
    response = requests.patch(
        f"{end_point}/v1/accounts/{account_id}/sessions/{session_id}",
        headers={"Content-Type": "application/json", **auth},
        data="{ 'maxLeaseTime': '5:0:0' }",
        timeout=10,
    )
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Content-Length"] == "0"
    assert MS_CV.match(response.headers["MS-CV"])

    # Get active sessions
    response = requests.get(f"{end_point}/v1/accounts/{account_id}/sessions", headers=auth, timeout=10)
    assert response.status_code == 200
    assert MS_CV.match(response.headers["MS-CV"])
    assert [s["sessionId"] for s in response.json()["sessions"]] == [session_id]

    # Get session properties
    response = requests.get(
        f"{end_point}/v1/accounts/{account_id}/sessions/{session_id}/properties", headers=auth, timeout=10
    )
    assert response.status_code == 200
    assert MS_CV.match(response.headers["MS-CV"])
    properties = response.json()
    assert properties["message"] is None
    assert properties["sessionId"] == session_id
    assert properties["sessionMaxLeaseTime"] == "05:00:00"
    assert properties["sessionStatus"] == "Starting"
    assert properties["sessionElapsedTime"] == "00:00:00"
    assert properties["sessionSize"] == "Standard"

    # Stop
    response = requests.delete(f"{end_point}/v1/accounts/{account_id}/sessions/{session_id}", headers=auth, timeout=10)
    assert response.status_code == 204
    assert response.content == b""
    assert MS_CV.match(response.headers["MS-CV"])

    response = requests.get(f"{end_point}/v1/accounts/{account_id}/sessions", headers=auth, timeout=10)
    assert response.json() == {"sessions": []}


def test_empty_list_is_exactly_the_documented_body(arr):
    response = arr.call("GET", f"/v1/accounts/{arr.account_id}/sessions")
    assert response.content == b'{"sessions":[]}'


def test_properties_of_a_ready_session_match_the_real_sample(arr, emulator):
    created = arr.call(
        "POST", f"/v1/accounts/{arr.account_id}/sessions/create", data="{ 'maxLeaseTime': '4:0:0', 'size': 'standard' }"
    )
    sid = created.json()["sessionId"]
    emulator.advance(6)  # startup 5 s, then 1 s in Ready
    properties = arr.call("GET", f"/v1/accounts/{arr.account_id}/sessions/{sid}/properties").json()
    assert list(properties) == sorted(properties)  # the real sample is in alphabetical order
    assert properties["message"] is None
    assert properties["sessionElapsedTime"] == "00:00:01"
    assert properties["sessionMaxLeaseTime"] == "04:00:00"
    assert properties["sessionStatus"] == "Ready"
    assert properties["sessionHostname"].endswith(".mixedreality.azure.com")
    assert 49152 <= properties["arrInspectorPort"] <= 65534
    assert 49152 <= properties["handshakePort"] <= 65534


def test_powershell_script_paths_with_trailing_slashes_and_extra_keys(arr, emulator):
    # RenderingSession.ps1 appends slashes and sends directConnectionSession as a string.
    body = '{"maxLeaseTime":"4:30:00","size":"premium","directConnectionSession":"false"}'
    created = arr.call("POST", f"/v1/accounts/{arr.account_id}/sessions/create/", data=body)
    assert created.status_code == 202
    sid = created.json()["sessionId"]
    properties = arr.call("GET", f"/v1/accounts/{arr.account_id}/sessions/{sid}/properties/")
    assert properties.json()["sessionMaxLeaseTime"] == "04:30:00"
    assert properties.json()["sessionSize"] == "Premium"
    listed = arr.call("GET", f"/v1/accounts/{arr.account_id}/sessions/")
    assert [s["sessionId"] for s in listed.json()["sessions"]] == [sid]


def test_timespans_parse_like_dotnet(arr):
    for text, echoed in [
        ("04:00:00", "04:00:00"),
        ("1:30", "01:30:00"),
        ("1", "1.00:00:00"),
        ("0:4:0:0", "04:00:00"),  # the "g" format: d:h:mm:ss
        ("0:04:00:00.5", "04:00:00.5000000"),
        ("0:0:90", None),
        ("00:30:00.0000005", None),  # 100 ns ticks: refused, not silently dropped
    ]:
        body = {"maxLeaseTime": text, "size": "standard"}
        response = arr.call("POST", f"/v1/accounts/{arr.account_id}/sessions/create", json=body)
        if echoed is None:
            assert response.status_code == 400
            assert "maxLeaseTime" in response.json()["error"]["message"]
            continue
        assert response.status_code == 202, text
        sid = response.json()["sessionId"]
        properties = arr.call("GET", f"/v1/accounts/{arr.account_id}/sessions/{sid}/properties").json()
        assert properties["sessionMaxLeaseTime"] == echoed


def test_a_create_is_capped_at_a_day_the_emulators_assumption_for_v1(arr):
    create = f"/v1/accounts/{arr.account_id}/sessions/create"
    assert arr.call("POST", create, json={"maxLeaseTime": "1.00:00:00", "size": "standard"}).status_code == 202
    for text in ("1.02:00:00", "1.00:00:01", "1:2:0:0"):
        refused = arr.call("POST", create, json={"maxLeaseTime": text, "size": "standard"})
        assert refused.status_code == 400 and "1.00:00:00" in refused.json()["error"]["message"], text


def test_update_must_be_larger_than_the_current_total_lease(arr):
    sid = arr.call(
        "POST", f"/v1/accounts/{arr.account_id}/sessions/create", json={"maxLeaseTime": "2:00:00", "size": "standard"}
    ).json()["sessionId"]
    path = f"/v1/accounts/{arr.account_id}/sessions/{sid}"
    same = arr.call("PATCH", path, json={"maxLeaseTime": "2:0:0"})
    assert same.status_code == 400
    assert "larger" in same.json()["error"]["message"]
    assert arr.call("PATCH", path, json={"maxLeaseTime": "24:00:00"}).status_code == 400
    assert arr.call("PATCH", path, json={"maxLeaseTime": "1.00:00:00"}).status_code == 400
    assert arr.call("PATCH", path, json={"maxLeaseTime": "3:00:00"}).status_code == 200
    assert arr.call("GET", path + "/properties").json()["sessionMaxLeaseTime"] == "03:00:00"


def test_stopped_session_stays_readable_and_cannot_be_updated(arr):
    sid = arr.call(
        "POST", f"/v1/accounts/{arr.account_id}/sessions/create", json={"maxLeaseTime": "1:00:00", "size": "standard"}
    ).json()["sessionId"]
    path = f"/v1/accounts/{arr.account_id}/sessions/{sid}"
    assert arr.call("DELETE", path).status_code == 204
    assert arr.call("GET", path + "/properties").json()["sessionStatus"] == "Stopped"
    response = arr.call("PATCH", path, json={"maxLeaseTime": "2:00:00"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "Conflict"
    assert arr.call("DELETE", path).status_code == 204  # stopping again is harmless


def test_unknown_session_is_404_with_error_body(arr):
    response = arr.call("GET", f"/v1/accounts/{arr.account_id}/sessions/nope/properties")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NotFound"
    assert "MS-CV" in response.headers
