"""Lease expiry, billing and capacity failures, driven by the virtual clock."""

from datetime import datetime


def test_clock_advance_returns_the_new_time(emulator):
    before = datetime.fromisoformat(emulator.now())
    after = datetime.fromisoformat(emulator.advance(3600))
    assert 3600 <= (after - before).total_seconds() < 3660


def test_session_expires_when_elapsed_reaches_the_lease(arr, emulator):
    arr.put("lease", 10)
    emulator.advance(5 + 9 * 60 + 59)  # startup, then 9:59 in Ready
    body = arr.get("lease").json()
    assert (body["status"], body["elapsedTimeMinutes"]) == ("Ready", 9)
    emulator.advance(1)
    body = arr.get("lease").json()
    assert (body["status"], body["elapsedTimeMinutes"]) == ("Expired", 10)
    assert "hostname" not in body
    assert body["teraflops"] == 8.1
    assert arr.list_all() == []
    (truth,) = emulator.truth()
    assert truth["status"] == "Expired"
    assert truth["billedSeconds"] == 600
    assert truth["endedAt"] is not None
    assert arr.patch("lease", 20).status_code == 422


def test_extension_moves_the_expiry(arr, emulator):
    arr.put("ext", 10)
    emulator.advance(5 + 9 * 60)
    assert arr.patch("ext", 30).status_code == 200
    emulator.advance(15 * 60)
    assert arr.get("ext").json()["status"] == "Ready"
    emulator.advance(6 * 60)
    assert arr.get("ext").json()["status"] == "Expired"
    assert emulator.truth()[0]["billedSeconds"] == 30 * 60


def test_billing_counts_time_in_ready_until_stop(arr, emulator):
    arr.put("billed", 60)
    emulator.advance(5 + 125)
    arr.stop("billed")
    emulator.advance(3600)
    (truth,) = emulator.truth()
    assert truth["status"] == "Stopped"
    assert 125 <= truth["billedSeconds"] < 127
    assert truth["elapsedMinutes"] == 2
    assert arr.get("billed").json()["elapsedTimeMinutes"] == 2


def test_v1_elapsed_time_is_a_timespan(arr, emulator):
    sid = arr.call(
        "POST", f"/v1/accounts/{arr.account_id}/sessions/create", json={"maxLeaseTime": "2:00:00", "size": "standard"}
    ).json()["sessionId"]
    emulator.advance(5 + 3723)
    properties = arr.call("GET", f"/v1/accounts/{arr.account_id}/sessions/{sid}/properties").json()
    assert properties["sessionElapsedTime"] == "01:02:03"
    emulator.advance(3600)
    properties = arr.call("GET", f"/v1/accounts/{arr.account_id}/sessions/{sid}/properties").json()
    assert properties["sessionStatus"] == "Expired"
    assert properties["message"]
    assert properties["sessionElapsedTime"] == "02:00:00"


def test_capacity_failure_ends_the_next_creates_in_error(arr, emulator):
    emulator.set_faults(capacityFailures=1)
    assert arr.put("unlucky", 15).status_code == 201
    assert arr.get("unlucky").json()["status"] == "Starting"
    assert arr.put("unlucky", 15).status_code == 200  # a retry does not use up another failure
    assert arr.put("lucky", 15).status_code == 201
    emulator.advance(5)
    failed = arr.get("unlucky").json()
    assert failed["status"] == "Error"
    assert failed["error"]["code"] == "InsufficientCapacity"
    assert "teraflops" not in failed and "hostname" not in failed
    assert arr.get("lucky").json()["status"] == "Ready"
    assert [s["id"] for s in arr.list_all()] == ["lucky"]
    states = {t["id"]: (t["status"], t["billedSeconds"] == 0) for t in emulator.truth()}
    assert states == {"unlucky": ("Error", True), "lucky": ("Ready", False)}


def test_reset_drops_sessions_faults_and_clock_offset(arr, emulator):
    arr.put("gone", 15)
    emulator.set_faults(rate=0.5, capacityFailures=3)
    emulator.advance(1000)
    emulator.reset()
    assert emulator.truth() == []
    assert emulator.admin("GET", "clock")["offsetSeconds"] == 0
    faults = emulator.admin("GET", "faults")
    assert (faults["rate"], faults["capacityFailures"]) == (0, 0)


def test_bulk_seeds_ready_sessions(arr, emulator):
    ids = emulator.bulk(3, idPrefix="seed-", size="Premium", leaseMinutes=30)
    assert ids == ["seed-000000", "seed-000001", "seed-000002"]
    listed = arr.list_all()
    assert [(s["id"], s["status"], s["size"]) for s in listed] == [(i, "Ready", "Premium") for i in ids]


def test_stats_count_service_calls_by_route(arr, emulator):
    emulator.admin("DELETE", "stats")
    arr.put("counted", 15)
    arr.get("counted")
    arr.get("counted")
    requests = emulator.stats()["requests"]
    assert requests["GET /accounts/{account}/sessions/{session}"] == 2
    assert requests["PUT /accounts/{account}/sessions/{session}"] == 1
    assert not any(key.startswith(("GET /_emulator", "POST /_emulator")) for key in requests)
