"""The emulator answers with the headers the service's recorded traffic shows, no more and no fewer
(/work/shared/reference/arr-recordings.md: (A), (B), (C) for 2021-01-01 and the STS, and the v1
samples). Connection management headers are the transport's, not the service's, and are left out."""

from __future__ import annotations

import re

import pytest

from tests.integration.emulator.client import Arr

TRANSPORT = {"connection", "keep-alive"}
API = "api-supported-versions"
COMMON = {"content-length", "content-type", "date", "ms-cv", "x-content-type-options"}
NO_CACHE = {"cache-control", "pragma"}


def names(response) -> set[str]:
    return {name.lower() for name in response.headers} - TRANSPORT


def test_the_2021_lifecycle_carries_the_recorded_headers(arr: Arr):
    token = arr.http.get(
        f"{arr.url}/accounts/{arr.account_id}/token",
        headers={"Authorization": f"Bearer {arr.account_id}:{arr.account_key}"},
        timeout=10,
    )
    assert names(token) == COMMON | NO_CACHE  # (A) STS 200
    assert names(arr.put("rec", 15)) == COMMON | {API}  # (A) PUT 201
    assert names(arr.get("rec")) == COMMON | NO_CACHE | {API}  # (A) GET 200
    assert names(arr.patch("rec", 30)) == COMMON | {API}  # (A) PATCH 200
    assert names(arr.call("GET", arr.session_path())) == COMMON | NO_CACHE | {API}  # (A) LIST 200
    assert names(arr.stop("rec")) == {"date", "ms-cv", "x-content-type-options", API}  # (A) :stop 204
    assert names(arr.put("neg", -1)) == COMMON | {API}  # (B) PUT 400


def test_a_refused_token_carries_the_recorded_headers(arr: Arr):
    refused = arr.http.get(
        f"{arr.url}/accounts/{arr.account_id}/token",
        headers={"Authorization": f"Bearer {arr.account_id}:wrong-key"},
        timeout=10,
    )
    assert refused.status_code == 401 and refused.content == b""
    assert names(refused) == {"content-length", "date", "ms-cv", "x-content-type-options"}  # (C) STS 401


@pytest.mark.parametrize("generation", ["2021", "v1"])
def test_no_server_header_the_service_never_sent(arr: Arr, generation):
    path = arr.session_path() if generation == "2021" else f"/v1/accounts/{arr.account_id}/sessions"
    response = arr.call("GET", path)
    assert response.status_code == 200 and "Server" not in response.headers
    assert re.fullmatch(r"[A-Za-z0-9+/]{22}\.\d+", response.headers["MS-CV"])


def test_the_v1_lifecycle_carries_the_headers_of_the_v1_samples(arr: Arr):
    base = f"/v1/accounts/{arr.account_id}/sessions"
    created = arr.call("POST", f"{base}/create", json={"maxLeaseTime": "4:0:0", "models": [], "size": "standard"})
    assert created.status_code == 202
    assert names(created) == {"ms-cv", "content-length", "content-type", "date", "location"}
    sid = created.json()["sessionId"]
    listed = arr.call("GET", base)
    assert names(listed) == {"ms-cv", "content-length", "content-type", "date"}
    assert names(arr.call("GET", f"{base}/{sid}/properties")) == {"ms-cv", "content-length", "content-type", "date"}
    updated = arr.call("PATCH", f"{base}/{sid}", json={"maxLeaseTime": "5:0:0"})
    assert updated.status_code == 200 and names(updated) == {"ms-cv", "content-length", "date"}
    stopped = arr.call("DELETE", f"{base}/{sid}")
    assert stopped.status_code == 204 and names(stopped) == {"ms-cv", "date"}


def test_the_2021_answers_the_spec_gives_no_body_carry_no_content_type(arr: Arr, emulator):
    """401/403/404/429 of the 2021-01-01 API: bodiless in the spec's examples, the headers of (C)'s 401."""
    bodiless = {"content-length", "date", "ms-cv", "x-content-type-options", API}
    unauthorized = arr.call("GET", arr.session_path("ghost"), auth=False)
    assert unauthorized.status_code == 401 and names(unauthorized) == bodiless | {"www-authenticate"}
    missing = arr.get("ghost")
    assert missing.status_code == 404 and names(missing) == bodiless and missing.content == b""
    other_account = arr.call("GET", arr.session_path().replace(arr.account_id, "0" * 8 + arr.account_id[8:]))
    assert other_account.status_code == 403 and names(other_account) == bodiless and other_account.content == b""
    emulator.set_faults(rate=1, statuses=[429], retryAfter=3)
    throttled = arr.get("ghost")
    assert throttled.status_code == 429 and names(throttled) == bodiless | {"retry-after"}
    assert throttled.content == b""
