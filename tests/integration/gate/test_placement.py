"""Placement across regions: a request lands where ARR has servers, every failed attempt is charged
what ARR billed (nothing), and the id a client polls leads to the attempt that stands for it.

Real Azurite and one real emulator serving three accounts (tests/fixtures/regions.py).
"""

from __future__ import annotations

from collections import Counter

import azure.functions as func
import pytest

from governor.core.model import LedgerState, Period, SessionStatus
from tests.fixtures.regions import NAMES, REGIONS, servers, sessions_by_account
from tests.integration.gate.conftest import RATE, Gate
from tests.integration.gate.test_manage import manage

LEASE = 60
STARTUP = 6  # the emulator's startup is 5 s: past it, a session is Ready or has failed
DOC = {
    "allowedSizes": ["Standard", "Premium"],
    "rates": {"Standard": "6", "Premium": "12"},
    "budget": {"daily": "100"},
    "maxConcurrent": 6,
    "maxLeaseMinutes": 120,
    "placement": REGIONS,
}
AUTO = {"size": "Standard", "maxLeaseTime": LEASE, "autoRetry": True}


@pytest.fixture
def gate(regions_env, store, regions_emulator) -> Gate:
    return Gate(store, regions_emulator)


def project(gate: Gate, name: str = "alpha", **document) -> str:
    created = manage(gate, "manage_put_project", "PUT", name, {**DOC, **document})
    assert created.status == 201, created.body
    return manage(gate, "manage_rotate_key", "POST", name, {"revokeOthers": True}).body["key"]


def poll_until_settled(gate: Gate, name: str, key: str, ids: list[str], rounds: int = 6) -> list[dict]:
    """Jump ARR's clock past each startup and poll every id, until none is Starting."""
    answers: list[dict] = []
    for _ in range(rounds):
        gate.emulator.advance(STARTUP)
        answers = [gate.get(name, key, sid).body for sid in ids]
        if all(a["status"] != "Starting" for a in answers):
            break
    return answers


def dashboard_page(gate: Gate, name: str, key: str) -> str:
    request = func.HttpRequest(
        method="GET",
        url=f"http://localhost/api/projects/{name}/dashboard",
        headers={"X-Api-Key": key},
        route_params={"project": name},
        params={},
        body=b"",
    )
    response = gate.functions["project_dashboard"].get_user_function()(request)
    assert response.status_code == 200
    return response.get_body().decode()


def failed_attempts(gate: Gate, name: str) -> list:
    return [
        e
        for e in gate.store.list_entries(name, include_closed=True)
        if e.state is LedgerState.CLOSED and e.final_status is SessionStatus.ERROR
    ]


def test_six_requests_land_two_in_the_first_region_none_in_the_second_four_in_the_third(gate):
    servers(gate.emulator, default=2, westeurope=0, japaneast=5)
    key = project(gate)
    replies = [gate.create("alpha", key, AUTO) for _ in range(6)]
    assert [r.status for r in replies] == [202] * 6
    assert {r.body["account"] for r in replies} == {"default"}  # nothing failed yet: the first region

    ids = [r.body["sessionId"] for r in replies]
    answers = poll_until_settled(gate, "alpha", key, ids)

    assert [a["status"] for a in answers] == ["Ready"] * 6  # no client-visible error
    assert not any("error" in a for a in answers)
    assert Counter(a["account"] for a in answers) == {"default": 2, "japaneast": 4}
    assert sessions_by_account(gate.emulator) == {"default": 2, "japaneast": 4}
    moved = [a for a in answers if a["sessionId"] not in ids]
    assert len(moved) == 4
    for answer in moved:  # the id polled led through one failure in each full region
        assert [(p["account"], p["error"]) for p in answer["previousAttempts"]] == [
            ("default", "capacity"),
            ("westeurope", "capacity"),
        ]

    failed = failed_attempts(gate, "alpha")
    truth = {s["id"]: s for s in gate.emulator.truth()}
    assert Counter(e.account for e in failed) == {"default": 4, "westeurope": 4}
    assert all(e.charged == 0 and truth[e.session_id]["billedSeconds"] == 0 for e in failed)
    held = sum(e.reserved for e in gate.store.list_entries("alpha"))
    assert gate.store.usage("alpha", Period.DAY, answers[0]["budget"]["day"]["key"]).reserved == held
    assert held == 6 * RATE  # six Ready sessions of an hour at 6.00, nothing more

    audit = gate.store.recent_audit(limit=200, project="alpha")
    capacity = Counter((r.figures["account"], r.figures["size"]) for r in audit if r.action == "capacity")
    assert capacity == {("default", "Standard"): 4, ("westeurope", "Standard"): 4}
    placed = [r for r in audit if r.action == "placement"]
    assert len(placed) == 8 and {r.figures["account"] for r in placed} == {"westeurope", "japaneast"}

    usage = gate.usage("alpha", key).body["placement"]
    assert usage["sessionsByAccount"] == {"default": 2, "japaneast": 4}
    assert usage["capacityFailures"] == [
        {"account": "default", "size": "Standard", "count": 4},
        {"account": "westeurope", "size": "Standard", "count": 4},
    ]
    page = dashboard_page(gate, "alpha", key)
    assert "Placement today" in page
    assert "<td>default</td><td>Standard</td><td class=n>2</td><td class=n>4</td>" in page


def test_without_auto_retry_the_answer_names_the_next_region_and_a_keyed_retry_starts_there(gate):
    servers(gate.emulator, default=0)
    key = project(gate)
    body = {"size": "Standard", "maxLeaseTime": LEASE}
    headers = {"Idempotency-Key": "order-1"}
    first = gate.create("alpha", key, body, headers=headers)
    assert first.status == 202 and first.body["account"] == "default"

    (failed,) = poll_until_settled(gate, "alpha", key, [first.body["sessionId"]])
    assert failed["status"] == "Error" and failed["state"] == "closed"
    assert failed["error"]["code"] == "capacity"
    assert failed["retry"] == {"next": {"account": "westeurope", "size": "Standard"}, "autoRetry": False}
    assert failed["costSoFar"] == "0.000000" and failed["reservedCost"] == "0.000000"

    retry = gate.create("alpha", key, body, headers=headers)
    assert retry.status == 202 and retry.body["account"] == "westeurope"
    assert retry.body["sessionId"] != first.body["sessionId"] and "replayed" not in retry.body
    assert gate.create("alpha", key, body, headers=headers).body["replayed"] is True  # that attempt, again
    gate.emulator.advance(STARTUP)
    followed = gate.get("alpha", key, first.body["sessionId"]).body  # the first id leads to the retry
    assert (followed["sessionId"], followed["status"]) == (retry.body["sessionId"], "Ready")
    assert sessions_by_account(gate.emulator) == {"westeurope": 1}


def test_a_region_without_capacity_is_not_asked_again_within_the_window(gate):
    servers(gate.emulator, default=0)
    key = project(gate, placement=["default", "japaneast"])
    first = gate.create("alpha", key, AUTO).body
    poll_until_settled(gate, "alpha", key, [first["sessionId"]])
    later = [gate.create("alpha", key, AUTO).body for _ in range(3)]
    assert {r["account"] for r in later} == {"japaneast"}
    created = Counter(NAMES[s["account"]] for s in gate.emulator.truth())
    assert created == {"default": 1, "japaneast": 4}  # one failed create in the full region, ever


def test_heartbeat_extend_and_stop_on_the_first_id_act_on_the_attempt_that_replaced_it(gate):
    servers(gate.emulator, default=0)
    key = project(gate)
    first = gate.create("alpha", key, AUTO).body["sessionId"]
    (ready,) = poll_until_settled(gate, "alpha", key, [first])
    attempt = ready["sessionId"]
    assert attempt != first and (ready["status"], ready["account"]) == ("Ready", "westeurope")

    beat = gate.heartbeat("alpha", key, first)
    assert (beat.status, beat.body["sessionId"]) == (200, attempt), beat.body
    assert gate.store.get_entry("alpha", attempt).last_heartbeat is not None
    extended = gate.extend("alpha", key, first, {"maxLeaseTime": LEASE + 30})
    assert (extended.status, extended.body["leaseMinutes"]) == (200, LEASE + 30), extended.body
    stopped = gate.stop("alpha", key, first)
    assert (stopped.status, stopped.body["sessionId"], stopped.body["status"]) == (200, attempt, "Stopped")

    truth = {s["id"]: s for s in gate.emulator.truth()}
    assert truth[attempt]["status"] == "Stopped" and truth[attempt]["maxLeaseMinutes"] == LEASE + 30
    assert truth[first]["status"] == "Error"


def test_regions_narrow_and_order_the_placement(gate):
    key = project(gate)
    reply = gate.create("alpha", key, {**AUTO, "regions": ["japaneast", "default"]})
    assert reply.status == 202 and reply.body["account"] == "japaneast"
    refused = gate.create("alpha", key, {**AUTO, "regions": ["eastus"]})
    assert (refused.status, refused.reason, refused.body["field"]) == (400, "bad-request", "regions[0]")
    assert "not in the project's placement" in refused.body["detail"]
    for bad, field in (
        ({"regions": []}, "regions"),
        ({"regions": ["a b"]}, "regions[0]"),
        ({"autoRetry": 1}, "autoRetry"),
    ):
        reply = gate.create("alpha", key, {"size": "Standard", "maxLeaseTime": LEASE, **bad})
        assert (reply.status, reply.body["field"]) == (400, field), bad


def test_premium_is_used_only_when_standard_is_full_everywhere_and_the_budget_pays(gate):
    servers(gate.emulator, default=0, japaneast=0)
    key = project(gate, placement=["default", "japaneast"], sizeFallback="premium")
    reply = gate.create("alpha", key, AUTO)
    (answer,) = poll_until_settled(gate, "alpha", key, [reply.body["sessionId"]])
    assert (answer["status"], answer["size"], answer["account"]) == ("Ready", "Premium", "default")
    assert answer["reservedCost"] == "12.000000"  # Premium's rate: 12.00 an hour
    assert [p["account"] for p in answer["previousAttempts"]] == ["default", "japaneast"]
    assert sessions_by_account(gate.emulator) == {"default": 1}
    assert all(e.charged == 0 for e in failed_attempts(gate, "alpha"))


def test_premium_is_not_used_when_the_budget_cannot_pay_for_it(gate):
    servers(gate.emulator, default=0, japaneast=0)
    key = project(gate, placement=["default", "japaneast"], sizeFallback="premium", budget={"daily": "10"})
    reply = gate.create("alpha", key, AUTO)  # 6.00 reserved; Premium would be 12.00
    (answer,) = poll_until_settled(gate, "alpha", key, [reply.body["sessionId"]])
    assert answer["status"] == "Error" and answer["error"]["code"] == "capacity"
    assert answer["retry"]["next"] == {"account": "default", "size": "Standard"}  # the oldest failure
    assert sessions_by_account(gate.emulator, statuses=("Starting", "Ready", "Error"), size="Premium") == {}
    assert answer["remainingBudget"] == "10.000000"  # every failed attempt charged what ARR billed: nothing
    assert gate.store.usage("alpha", Period.DAY, answer["budget"]["day"]["key"]).spent == 0


def test_placement_and_capacity_are_sent_as_signed_webhooks_with_the_account_and_size(gate, monkeypatch):
    from governor.bootstrap import reset_context
    from governor.demo.webhooks import Receiver
    from governor.service.webhooks import default_sender

    monkeypatch.setenv("GOVERNOR_WEBHOOK_ALLOW_LOOPBACK_HTTP", "true")
    reset_context()
    servers(gate.emulator, default=0)
    with Receiver() as hooks:
        hook = {"webhookUrl": hooks.url("alpha"), "webhookSecret": hooks.secret("alpha")}
        key = project(gate, placement=["default", "japaneast"], **hook)
        first = gate.create("alpha", key, AUTO).body
        poll_until_settled(gate, "alpha", key, [first["sessionId"]])
        default_sender(5.0, True).drain(10)
        events = {(d.kind, d.reason, d.figures["account"], d.figures["size"], d.verified) for d in hooks.received}
    assert events == {
        ("capacity", "insufficient-capacity", "default", "Standard", True),
        ("placement", "capacity-elsewhere", "japaneast", "Standard", True),
    }
