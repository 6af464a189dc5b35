"""Retries of the client library against a scripted gate: which answers are retried, how long it
waits (Retry-After, backoff with jitter), that it gives up, and that every retry is the same request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from governor_client import GovernorClient, GovernorError, RetryPolicy
from governor_client.retry import parse_retry_after

from tests.clients.conftest import CALLER_KEY, FAST
from tests.clients.scripted_gate import Reply, problem

SESSIONS = "/projects/demo/sessions"
STARTING = {"sessionId": "s-1", "status": "Starting", "state": "active", "leaseMinutes": 30}


def test_a_create_is_retried_after_503_with_the_same_idempotency_key_and_not_before_retry_after(client, scripted):
    scripted.script(
        "POST",
        SESSIONS,
        problem(503, "upstream-unavailable", "ARR is unavailable", retry_after=1, sessionId="s-1"),
        Reply(202, STARTING),
    )
    view = client.request("Standard", 30)
    assert view["sessionId"] == "s-1"
    posts = scripted.requests("POST", SESSIONS)
    assert len(posts) == 2
    keys = {p.headers["Idempotency-Key"] for p in posts}
    assert len(keys) == 1 and len(keys.pop()) == 36  # one fresh uuid4, sent on every attempt
    assert posts[0].body == posts[1].body == {"size": "Standard", "maxLeaseTime": 30}
    assert scripted.gaps("POST", SESSIONS)[0] >= 1.0
    assert all(p.headers["X-Api-Key"] == CALLER_KEY and p.headers["x-functions-key"] == "fn-key" for p in posts)


def test_the_callers_own_idempotency_key_is_sent(client, scripted):
    scripted.script("POST", SESSIONS, Reply(202, STARTING))
    client.request("Premium", "01:30:00", idempotency_key="app-42.retry:1", models=["builtin://Engine"])
    (post,) = scripted.requests("POST", SESSIONS)
    assert post.headers["Idempotency-Key"] == "app-42.retry:1"
    assert post.body == {"size": "Premium", "maxLeaseTime": "01:30:00", "models": ["builtin://Engine"]}


def test_429_is_retried_after_its_retry_after(client, scripted):
    scripted.script(
        "POST", SESSIONS, problem(429, "concurrency-limit", "2 sessions run", retry_after=1), Reply(202, STARTING)
    )
    assert client.request("Standard", 30)["status"] == "Starting"
    assert scripted.gaps("POST", SESSIONS)[0] >= 1.0


def test_a_dropped_connection_is_retried_with_backoff(client, scripted):
    scripted.script("POST", SESSIONS, Reply(hang_up=True), Reply(hang_up=True), Reply(202, STARTING))
    assert client.request("Standard", 30)["sessionId"] == "s-1"
    posts = scripted.requests("POST", SESSIONS)
    assert len(posts) == 3 and len({p.headers["Idempotency-Key"] for p in posts}) == 1
    first, second = scripted.gaps("POST", SESSIONS)
    assert first >= FAST.backoff and second >= 2 * FAST.backoff  # no Retry-After: exponential backoff


def test_retries_are_bounded(client, scripted):
    scripted.script("GET", SESSIONS + "/s-1", problem(500, "internal-error", "incident 7"))
    with pytest.raises(GovernorError) as raised:
        client.get("s-1")
    assert (raised.value.status, raised.value.reason) == (500, "internal-error")
    assert len(scripted.requests("GET")) == FAST.attempts


def test_a_retry_after_beyond_max_wait_gives_up_at_once(client, scripted):
    scripted.script("POST", SESSIONS, problem(503, "upstream-unavailable", "later", retry_after=3600))
    with pytest.raises(GovernorError) as raised:
        client.request("Standard", 30)
    assert raised.value.retry_after == 3600
    assert len(scripted.requests("POST")) == 1


@pytest.mark.parametrize(
    ("status", "reason", "figures"),
    [
        (400, "bad-request", {"field": "maxLeaseTime"}),
        (401, "unauthorized", {}),
        (402, "budget-exhausted", {"remainingBudget": "1.000000"}),
        (403, "forbidden", {}),
        (404, "not-found", {}),
        (409, "conflict", {}),
        (422, "lease-too-long", {"maxLeaseMinutes": 120}),
    ],
)
def test_other_4xx_are_raised_at_once_with_reason_status_and_detail(client, scripted, status, reason, figures):
    scripted.script("POST", SESSIONS, problem(status, reason, f"refused: {reason}", **figures))
    with pytest.raises(GovernorError) as raised:
        client.request("Standard", 30)
    error = raised.value
    assert (error.status, error.reason, error.detail) == (status, reason, f"refused: {reason}")
    assert all(error.problem[name] == value for name, value in figures.items())
    assert len(scripted.requests("POST")) == 1
    assert CALLER_KEY not in f"{error} {error!r} {error.problem} {error.args}"


def test_the_hosts_bodiless_401_says_to_check_the_function_key(client, scripted):
    """The gate's own 401 is problem+json; the Functions host refuses a missing or wrong function
    key before the gate runs, with no body at all."""
    scripted.script("POST", SESSIONS, Reply(401, None))
    with pytest.raises(GovernorError) as raised:
        client.request("Standard", 30)
    assert (raised.value.status, raised.value.reason) == (401, "http-401")
    assert "function key" in raised.value.detail


def test_the_key_shows_in_no_repr_of_the_client():
    client = GovernorClient("http://127.0.0.1:9/api", CALLER_KEY, "demo")
    assert CALLER_KEY not in repr(client) and CALLER_KEY not in str(vars(client))


def test_an_unreachable_gate_is_a_governor_error_after_the_retries():
    client = GovernorClient("http://127.0.0.1:9/api", CALLER_KEY, "demo", timeout=2, retry=FAST)
    with pytest.raises(GovernorError) as raised:
        client.get("s-1")
    assert raised.value.reason == "unreachable" and raised.value.status is None
    assert CALLER_KEY not in str(raised.value)


def test_backoff_doubles_up_to_its_cap_and_jitter_only_adds():
    policy = RetryPolicy(attempts=10, backoff=1.0, max_backoff=8.0, jitter=0.25)
    for retry, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0)]:
        delays = [policy.delay(retry, None) for _ in range(200)]
        assert base <= min(delays) and max(delays) <= base * 1.25
    assert policy.delay(10, None) is None  # the tenth try was the last
    assert 7.0 <= policy.delay(1, 7.0) <= 7.0 * 1.25  # Retry-After, never earlier


def test_retry_after_is_read_as_seconds_or_as_an_http_date():
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now) == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None and parse_retry_after("-3") is None
