"""Every refusal reason, through the functions, as problem+json with a stable type."""

from datetime import timedelta

import pytest

from governor.core.model import MICROS, VmSize


def assert_problem(reply, status: int, reason: str):
    assert (reply.status, reply.reason) == (status, reason), reply.body
    assert reply.mimetype == "application/problem+json"
    assert reply.body["status"] == status and reply.body["detail"]


def test_unknown_project(gate):
    assert_problem(gate.create("nobody", "k"), 404, "unknown-project")


def test_missing_key_is_unauthorized_and_a_wrong_key_forbidden(gate):
    gate.project()
    assert_problem(gate.create("alpha", None), 401, "unauthorized")
    assert_problem(gate.create("alpha", "not-the-key"), 403, "forbidden")


def test_disabled_project_is_forbidden(gate):
    key = gate.project(enabled=False)
    assert_problem(gate.create("alpha", key), 403, "forbidden")


def test_size_not_allowed(gate):
    key = gate.project()
    reply = gate.create("alpha", key, {"size": "Premium", "maxLeaseTime": 30})
    assert_problem(reply, 422, "size-not-allowed")
    assert reply.body["allowedSizes"] == ["Standard"]


def test_lease_too_long(gate):
    key = gate.project()
    reply = gate.create("alpha", key, {"size": "Standard", "maxLeaseTime": "02:01:00"})
    assert_problem(reply, 422, "lease-too-long")
    assert reply.body["maxLeaseMinutes"] == 120


def test_concurrency_limit(gate):
    key = gate.project(max_concurrent=1)
    assert gate.create("alpha", key).status == 202
    reply = gate.create("alpha", key)
    assert_problem(reply, 429, "concurrency-limit")
    assert "Retry-After" in reply.headers
    assert len(gate.open_sessions_in_arr()) == 1


def test_budget_exhausted(gate):
    key = gate.project(daily_budget=5 * MICROS)
    reply = gate.create("alpha", key)  # 60 min at 6/h = 6 > 5
    assert_problem(reply, 402, "budget-exhausted")
    assert reply.body["remainingBudget"] == "5.000000"
    assert gate.open_sessions_in_arr() == [] and gate.store.list_entries("alpha", include_closed=True) == []
    audit = gate.store.recent_audit(project="alpha")
    assert [(a.source, a.action, a.reason) for a in audit] == [("gate", "refuse", "budget-exhausted")]
    assert key not in str(audit)


def test_extension_denied_at_the_hard_cap(gate):
    key = gate.project(hard_max_duration=timedelta(hours=1), max_lease=timedelta(hours=1))
    sid = gate.create("alpha", key).body["sessionId"]
    gate.emulator.advance(5 + 55 * 60)
    reply = gate.extend("alpha", key, sid)
    assert_problem(reply, 409, "extension-denied")
    assert reply.body["limit"] == "hard-cap"
    assert gate.emulator.truth()[0]["maxLeaseMinutes"] == 60
    assert saved_today(gate, key) == "3.000000"  # the governor declined one 30-minute step at 6/h


def test_extension_denied_when_the_lease_already_covers_it(gate):
    key = gate.project()
    sid = gate.create("alpha", key).body["sessionId"]
    reply = gate.extend("alpha", key, sid, {"maxLeaseTime": 45})
    assert_problem(reply, 409, "extension-denied")
    assert saved_today(gate, key) == "0.000000"  # nothing was declined: the lease already covers it


def test_extension_beyond_the_budget(gate):
    key = gate.project(daily_budget=7 * MICROS)
    sid = gate.create("alpha", key).body["sessionId"]  # reserves 6
    gate.emulator.advance(5 + 55 * 60)
    partial = gate.extend("alpha", key, sid)  # asks 85 min, 1 left pays 10 more minutes
    assert partial.status == 200 and partial.body["partial"] and partial.body["leaseMinutes"] == 70
    assert_problem(gate.extend("alpha", key, sid), 402, "budget-exhausted")
    assert saved_today(gate, key) == "3.000000"  # one declined 30-minute step at 6/h
    assert_problem(gate.extend("alpha", key, sid), 402, "budget-exhausted")
    assert saved_today(gate, key) == "3.000000"  # once per session, however often it asks


def saved_today(gate, key) -> str:
    periods = gate.usage("alpha", key).body["periods"]
    return next(p["saved"] for p in periods if p["period"] == "day")


def test_not_found(gate):
    key = gate.project()
    assert_problem(gate.get("alpha", key, "no-such-session"), 404, "not-found")
    assert_problem(gate.stop("alpha", key, "no-such-session"), 404, "not-found")
    assert_problem(gate.heartbeat("alpha", key, "no-such-session"), 404, "not-found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{", "body"),
        (b"", "body"),
        ({"size": "Standard", "maxLeaseTime": 60, "color": "red"}, "color"),
        ({"size": "Standard", "maxLeaseTime": "sixty"}, "maxLeaseTime"),
        ({"size": ["Standard"], "maxLeaseTime": 60}, "size"),
        ({"size": "Standard", "maxLeaseTime": 60, "models": [1]}, "models[0]"),
        (b'{"size": "Standard", "maxLeaseTime": 60, "maxLeaseTime": 900}', "maxLeaseTime"),
        (b'{"size": "Standard", "size": "standard", "maxLeaseTime": 60}', "size"),
        ({"size": "Standard", "maxLeaseTime": 1441}, "maxLeaseTime"),
        ({"size": "Standard", "maxLeaseTime": 86_400}, "maxLeaseTime"),
    ],
)
def test_bad_request_names_the_field(gate, body, field):
    key = gate.project()
    reply = gate.create("alpha", key, body)
    assert_problem(reply, 400, "bad-request")
    assert reply.body["field"] == field


def test_a_lease_finer_than_a_microsecond_is_a_bad_request_and_starts_nothing(gate):
    key = gate.project()
    reply = gate.create("alpha", key, {"size": "Standard", "maxLeaseTime": "00:30:00.0000005"})
    assert_problem(reply, 400, "bad-request")
    assert reply.body["field"] == "maxLeaseTime" and "more precise than a microsecond" in reply.body["detail"]
    assert gate.emulator.truth() == []


def test_an_extension_past_arrs_longest_lease_is_a_bad_request_and_changes_nothing(gate):
    key = gate.project()
    sid = gate.create("alpha", key).body["sessionId"]
    for minutes in (1441, 86_400):
        reply = gate.extend("alpha", key, sid, {"maxLeaseTime": minutes})
        assert_problem(reply, 400, "bad-request")
        assert reply.body["field"] == "maxLeaseTime"
    duplicate = gate.extend("alpha", key, sid, b'{"maxLeaseTime": 90, "maxLeaseTime": 120}')
    assert_problem(duplicate, 400, "bad-request")
    assert duplicate.body["field"] == "maxLeaseTime"
    assert gate.emulator.truth()[0]["maxLeaseMinutes"] == 60
    assert gate.get("alpha", key, sid).body["leaseMinutes"] == 60


def test_payload_too_large(gate):
    key = gate.project()
    body = b'{"size": "Standard", "maxLeaseTime": 60, "models": ["https://' + b"a" * 70_000 + b'"]}'
    assert_problem(gate.create("alpha", key, body), 413, "payload-too-large")


def test_upstream_unavailable_when_arr_keeps_failing(gate):
    key = gate.project()
    gate.emulator.set_faults(rate=1, statuses=[503], retryAfter=0)
    reply = gate.create("alpha", key)
    assert_problem(reply, 503, "upstream-unavailable")
    assert int(reply.headers["Retry-After"]) >= 1


def test_no_route_echoes_the_key(gate):
    key = gate.project(rates={VmSize.STANDARD: MICROS})
    sid = gate.create("alpha", key).body["sessionId"]
    replies = [
        gate.get("alpha", key, sid),
        gate.list("alpha", key),
        gate.heartbeat("alpha", key, sid),
        gate.usage("alpha", key),
        gate.create("alpha", key, {"size": "Premium", "maxLeaseTime": 60}),
        gate.stop("alpha", key, sid),
    ]
    for reply in replies:
        assert key not in str(reply.body) and key not in str(reply.headers)
