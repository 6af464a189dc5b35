"""Working hours at the gate, against Azurite and the ARR emulator: refused outside them, capped at closing."""

from datetime import UTC, datetime, timedelta

import pytest

from governor.bootstrap import Context, get_context, set_context

# Tuesday 2026-11-24 in Europe/Berlin (UTC+1): open 08:00-18:00 local = 07:00-17:00 UTC
CLOSES = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
DOC = {
    "allowedSizes": ["Standard"],
    "rates": {"Standard": "6"},
    "budget": {"daily": "50"},
    "maxConcurrent": 3,
    "maxLeaseMinutes": 120,
    "schedule": {"timeZone": "Europe/Berlin", "hours": {"tue": ["08:00-18:00"], "wed": ["08:00-18:00"]}},
}


def put(gate, body, project="hours"):
    return gate.call("manage_put_project", "PUT", f"manage/projects/{project}", {"project": project}, body)


@pytest.fixture
def at(gate):
    """Set the governor's clock (the context's) to an instant."""

    def move(instant: datetime):
        real = get_context()
        set_context(Context(real.settings, real.store, real.arr, lambda: instant))

    return move


def test_outside_hours_refused_with_next_opening_and_nothing_written(gate, at):
    assert put(gate, DOC).status == 201
    key = gate.store.rotate_key("hours")
    at(CLOSES + timedelta(minutes=1))
    reply = gate.create("hours", key, {"size": "Standard", "maxLeaseTime": 30})
    assert (reply.status, reply.reason) == (403, "outside-hours"), reply.body
    assert reply.body["opensAt"] == "2026-11-25T07:00:00Z"
    assert reply.body["opensAtLocal"] == "2026-11-25T08:00:00+01:00"
    assert reply.body["timeZone"] == "Europe/Berlin"
    assert gate.store.list_entries("hours", include_closed=True) == []
    assert gate.open_sessions_in_arr() == []
    assert any(r.reason == "outside-hours" for r in gate.store.recent_audit(project="hours"))


def test_a_lease_past_closing_is_capped_at_closing(gate, at, emulator):
    put(gate, DOC)
    key = gate.store.rotate_key("hours")
    at(CLOSES - timedelta(minutes=45))
    reply = gate.create("hours", key, {"size": "Standard", "maxLeaseTime": 90})
    assert reply.status == 202, reply.body
    assert reply.body["partial"] is True
    assert reply.body["reservedCost"] == "4.500000"  # 45 minutes at 6 an hour, not 90
    (arr,) = gate.open_sessions_in_arr()
    assert arr["maxLeaseMinutes"] == 45
    at(CLOSES - timedelta(hours=3))
    inside = gate.create("hours", key, {"size": "Standard", "maxLeaseTime": 60})
    assert inside.status == 202 and inside.body["partial"] is False


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"timeZone": "Europe/Atlantis", "hours": {}}, "schedule.timeZone"),
        ({"timeZone": "UTC", "hours": {"mon": ["9:00-17:00"]}}, "schedule.hours.mon[0]"),
        ({"timeZone": "UTC", "hours": {"mon": ["09:00-17:00", "16:00-18:00"]}}, "schedule.hours.mon[1]"),
    ],
)
def test_bad_schedules_are_a_400_naming_the_field_and_write_nothing(gate, schedule, field):
    reply = put(gate, {**DOC, "schedule": schedule})
    assert (reply.status, reply.reason, reply.body["field"]) == (400, "bad-request", field)
    assert gate.store.get_project("hours") is None


def test_schedule_round_trips_through_the_admin_routes(gate):
    put(gate, DOC)
    stored = gate.call("manage_get_project", "GET", "manage/projects/hours", {"project": "hours"}).body
    assert stored["schedule"] == {
        "timeZone": "Europe/Berlin",
        "hours": {"tue": ["08:00-18:00"], "wed": ["08:00-18:00"]},
        "holidays": [],
        "closing": "stop",
        "warnBeforeMinutes": None,
    }


def test_a_retry_of_an_admitted_request_is_answered_after_closing(gate, at):
    put(gate, DOC)
    key = gate.store.rotate_key("hours")
    at(CLOSES - timedelta(minutes=30))
    headers = {"Idempotency-Key": "kiosk-retry-1"}
    first = gate.create("hours", key, {"size": "Standard", "maxLeaseTime": 20}, headers=headers)
    assert first.status == 202, first.body
    at(CLOSES + timedelta(minutes=5))
    again = gate.create("hours", key, {"size": "Standard", "maxLeaseTime": 20}, headers=headers)
    assert again.status == 202 and again.body["replayed"] is True
    assert again.body["sessionId"] == first.body["sessionId"]
    fresh = gate.create("hours", key, {"size": "Standard", "maxLeaseTime": 20}, headers={"Idempotency-Key": "new"})
    assert fresh.reason == "outside-hours"


def test_a_retry_of_a_request_capped_at_closing_replays_it(gate, at):
    """The key's fingerprint is the request as the client sent it, not as closing time cut it: a
    client that saw a 422 here would retry with a new key and pay for a second session."""
    put(gate, DOC)
    key = gate.store.rotate_key("hours")
    at(CLOSES - timedelta(minutes=45))
    headers = {"Idempotency-Key": "capped-1"}
    body = {"size": "Standard", "maxLeaseTime": 90}
    first = gate.create("hours", key, body, headers=headers)
    assert first.status == 202 and first.body["partial"] is True, first.body
    at(CLOSES - timedelta(minutes=44))
    again = gate.create("hours", key, body, headers=headers)
    assert again.status == 202 and again.body["replayed"] is True, again.body
    assert again.body["sessionId"] == first.body["sessionId"]
    cut = gate.create("hours", key, {"size": "Standard", "maxLeaseTime": 45}, headers=headers)
    assert (cut.status, cut.reason) == (422, "idempotency-key-reused")  # not what the client sent
    assert len(gate.open_sessions_in_arr()) == 1
