"""The session lifecycle through the functions, against Azurite and the ARR emulator."""

from datetime import UTC, datetime

from governor.core.model import LedgerState, Period


def test_request_get_heartbeat_extend_stop(gate):
    key = gate.project()
    created = gate.create("alpha", key, {"size": "standard", "maxLeaseTime": "01:00:00"})
    assert created.status == 202, created.body
    sid = created.body["sessionId"]
    assert created.body["reservedCost"] == "6.000000"
    assert created.body["remainingBudget"] == "94.000000"
    assert [s["id"] for s in gate.open_sessions_in_arr()] == [sid]
    assert created.body["state"] == "active"
    gate.settle()
    assert gate.store.get_entry("alpha", sid).state is LedgerState.ACTIVE

    gate.emulator.advance(5 + 50 * 60)  # Ready after 5 s, then 50 minutes
    seen = gate.get("alpha", key, sid)
    assert seen.status == 200
    assert (seen.body["status"], seen.body["elapsedMinutes"], seen.body["remainingLeaseMinutes"]) == ("Ready", 50, 10)
    assert seen.body["costSoFar"] == "5.000000" and seen.body["hostname"]

    beat = gate.heartbeat("alpha", key, sid)
    assert beat.status == 200
    assert beat.body["lastHeartbeat"] is not None
    assert beat.body["extension"]["wouldGrant"] and beat.body["extension"]["suggest"]

    extended = gate.extend("alpha", key, sid)
    assert extended.status == 200, extended.body
    assert extended.body["leaseMinutes"] == 80  # elapsed 50 + step 30, not 60 + 30
    assert extended.body["extraCost"] == "2.000000"
    assert gate.emulator.truth()[0]["maxLeaseMinutes"] == 80
    assert gate.store.usage("alpha", Period.DAY, created_day(gate)).reserved == 8 * 1_000_000

    gate.emulator.advance(10 * 60)
    stopped = gate.stop("alpha", key, sid)
    assert stopped.status == 200, stopped.body
    assert (stopped.body["state"], stopped.body["status"]) == ("closed", "Stopped")
    assert stopped.body["costSoFar"] == "6.000000"  # 60 minutes actually used
    assert gate.open_sessions_in_arr() == []
    usage = gate.store.usage("alpha", Period.DAY, created_day(gate))
    assert (usage.spent, usage.reserved) == (6 * 1_000_000, 0)

    again = gate.stop("alpha", key, sid)
    assert again.status == 200 and again.body["costSoFar"] == "6.000000"


def created_day(gate) -> str:
    from governor.core.model import utcnow

    return Period.DAY.key(utcnow())


def test_list_and_usage(gate):
    key = gate.project()
    first = gate.create("alpha", key).body["sessionId"]
    second = gate.create("alpha", key, {"size": "Standard", "maxLeaseTime": 30}).body["sessionId"]
    gate.stop("alpha", key, second)
    listed = gate.list("alpha", key)
    assert listed.status == 200
    assert [s["sessionId"] for s in listed.body["sessions"]] == [first]
    everything = gate.list("alpha", key, params={"includeClosed": "true"})
    assert {s["sessionId"] for s in everything.body["sessions"]} == {first, second}
    assert [s["sessionId"] for s in gate.list("alpha", key, params={"includeClosed": "False"}).body["sessions"]] == [
        first
    ]
    for unclear in ("-216542101192", "maybe", "tru"):  # once read as false, silently
        refused = gate.list("alpha", key, params={"includeClosed": unclear})
        assert (refused.status, refused.reason, refused.body["field"]) == (400, "bad-request", "includeClosed")

    usage = gate.usage("alpha", key)
    assert usage.status == 200
    day = next(p for p in usage.body["periods"] if p["period"] == "day")
    assert (day["budget"], day["reserved"], day["spent"]) == ("100.000000", "6.000000", "0.000000")
    assert day["saved"] == "0.000000"  # a stop the caller asked for is not a governor saving
    assert usage.body["sessions"]["open"] == 1 and usage.body["sessions"]["day"] == 2
    gate.store.save("alpha", first, "extension", 1_500_000, datetime.now(UTC))
    periods = gate.usage("alpha", key).body["periods"]
    assert {p["period"]: p["saved"] for p in periods} == {"day": "1.500000", "month": "1.500000"}
    past = gate.usage("alpha", key, {"month": "2020-01", "day": "2020-01-02"})
    assert past.status == 200
    assert {p["key"] for p in past.body["periods"]} == {"2020-01", "2020-01-02"}
    assert all(p["spent"] == "0.000000" for p in past.body["periods"])
    last = gate.usage("alpha", key, {"month": "9999-12", "day": "9999-12-31"})  # the calendar's last day
    assert last.status == 200, last.body
    assert {p["key"] for p in last.body["periods"]} == {"9999-12", "9999-12-31"}


def test_v1_api_server_chosen_ids_are_recorded_under_arrs_id(gate, monkeypatch):
    from governor.bootstrap import reset_context

    monkeypatch.setenv("ARR_API_VERSION", "v1")
    reset_context()
    key = gate.project()
    created = gate.create("alpha", key)
    assert created.status == 202, created.body
    sid = created.body["sessionId"]
    assert [s["id"] for s in gate.open_sessions_in_arr()] == [sid]
    assert [e.session_id for e in gate.store.list_entries("alpha")] == [sid]
    gate.emulator.advance(5 + 10 * 60)
    assert gate.get("alpha", key, sid).body["elapsedMinutes"] == 10
    gate.emulator.advance(30 * 60)
    extended = gate.extend("alpha", key, sid)
    assert (extended.status, extended.body["leaseMinutes"]) == (200, 70), extended.body
    assert gate.emulator.truth()[0]["maxLeaseMinutes"] == 70
    stopped = gate.stop("alpha", key, sid)
    assert (stopped.status, stopped.body["costSoFar"]) == (200, "4.000000")  # 40 minutes at 6/h
    assert gate.open_sessions_in_arr() == []


def test_a_retry_with_the_same_idempotency_key_returns_the_first_session(gate):
    key = gate.project()
    other = gate.project("beta")
    headers = {"Idempotency-Key": "order-42"}
    first = gate.create("alpha", key, headers=headers)
    again = gate.create("alpha", key, headers=headers)
    assert (first.status, again.status) == (202, 202)
    assert again.body["sessionId"] == first.body["sessionId"] and again.body["replayed"]
    assert len(gate.open_sessions_in_arr()) == 1
    assert gate.store.usage("alpha", Period.DAY, created_day(gate)).reserved == 6 * 1_000_000
    elsewhere = gate.create("beta", other, headers=headers)
    assert elsewhere.status == 202 and elsewhere.body["sessionId"] != first.body["sessionId"]
    bad = gate.create("alpha", key, headers={"Idempotency-Key": "has spaces"})
    assert (bad.status, bad.body["field"]) == (400, "Idempotency-Key")


def test_the_same_idempotency_key_with_a_different_request_is_a_422_that_changes_nothing(gate):
    """The IETF draft: a key reused for another payload is a client error, never a silent replay
    of the first session (asked 90 minutes, got the 30-minute one)."""
    from governor.core.model import VmSize

    key = gate.project(allowed_sizes=frozenset(VmSize))
    headers = {"Idempotency-Key": "order-43"}
    first = gate.create("alpha", key, {"size": "Standard", "maxLeaseTime": 30}, headers=headers)
    assert first.status == 202, first.body
    same = gate.create("alpha", key, {"size": "standard", "maxLeaseTime": "00:30:00"}, headers=headers)
    assert same.status == 202 and same.body["replayed"], same.body  # the same request, spelled otherwise
    for other in ({"size": "Standard", "maxLeaseTime": 90}, {"size": "Premium", "maxLeaseTime": 30}):
        reused = gate.create("alpha", key, other, headers=headers)
        assert (reused.status, reused.reason) == (422, "idempotency-key-reused"), reused.body
        assert reused.body["field"] == "Idempotency-Key"
    assert len(gate.open_sessions_in_arr()) == 1
    assert gate.store.usage("alpha", Period.DAY, created_day(gate)).reserved == 3 * 1_000_000


def test_concurrent_repeats_get_the_session_or_a_409_with_retry_after_and_pay_once(gate):
    """24 requests with one Idempotency-Key at the same moment (2021-01-01: the ids are ours)."""
    import threading

    key = gate.project(max_concurrent=30)
    barrier, replies = threading.Barrier(24), []

    def client():
        barrier.wait()
        replies.append(gate.create("alpha", key, headers={"Idempotency-Key": "order-44"}))

    threads = [threading.Thread(target=client) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    admitted = [r for r in replies if r.status == 202]
    waiting = [r for r in replies if r.status != 202]
    assert admitted and len({r.body["sessionId"] for r in admitted}) == 1
    for reply in waiting:
        assert (reply.status, reply.reason) == (409, "conflict"), reply.body
        assert int(reply.headers["Retry-After"]) >= 1 and "same key" in reply.body["detail"]
    assert len(gate.open_sessions_in_arr()) == 1
    assert gate.store.usage("alpha", Period.DAY, created_day(gate)).reserved == 6 * 1_000_000
