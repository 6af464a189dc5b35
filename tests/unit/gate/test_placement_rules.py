"""Placement's pure rules: the order of places, the capacity memory's window, the ids of next
attempts, ARR's capacity answer, and the policy document's `placement` and `sizeFallback`."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from governor.core.errors import Refusal
from governor.core.model import (
    MICROS,
    LedgerEntry,
    LedgerState,
    PlacementAccount,
    ProjectPolicy,
    RetryPlan,
    Session,
    SessionStatus,
    SizeFallback,
    VmSize,
)
from governor.core.policy import placement
from governor.core.policy.document import PolicyError, policy_from_document, policy_to_document
from governor.core.policy.gate import parse_session_request, session_id_for
from governor.core.policy.placement import Place
from governor.store.entities import entity_to_entry, entity_to_policy, entry_to_entity, policy_to_entity

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=10)
STANDARD, PREMIUM = VmSize.STANDARD, VmSize.PREMIUM
POLICY = ProjectPolicy(
    name="alpha",
    allowed_sizes=frozenset({STANDARD, PREMIUM}),
    rates={STANDARD: 3 * MICROS, PREMIUM: 9 * MICROS},
    placement=(PlacementAccount("east"), PlacementAccount("west", {STANDARD: 4 * MICROS}), PlacementAccount("asia")),
    size_fallback=SizeFallback.PREMIUM,
)


def test_places_are_the_asked_size_in_each_account_then_premium_with_the_fallback():
    places = placement.candidates(POLICY, STANDARD)
    assert places == [Place(a, STANDARD) for a in ("east", "west", "asia")] + [
        Place(a, PREMIUM) for a in ("east", "west", "asia")
    ]
    assert placement.candidates(POLICY, PREMIUM) == [Place(a, PREMIUM) for a in ("east", "west", "asia")]
    assert placement.candidates(ProjectPolicy(name="solo", account="eu"), STANDARD) == [Place("eu", STANDARD)]


def test_regions_narrow_and_order_the_accounts_and_a_stranger_is_refused_naming_it():
    assert placement.accounts_for(POLICY, ["asia", "east"]) == ("asia", "east")
    with pytest.raises(Refusal) as refused:
        placement.accounts_for(POLICY, ["asia", "mars"])
    assert refused.value.figures == {"field": "regions[1]"} and "east, west, asia" in refused.value.detail


def test_the_first_place_without_a_failure_in_the_window_goes_first():
    places = placement.candidates(POLICY, STANDARD)
    failures = {Place("east", STANDARD): NOW - timedelta(minutes=3), Place("west", STANDARD): NOW - WINDOW}
    assert placement.order(places, STANDARD, failures, NOW, WINDOW)[:2] == [
        Place("west", STANDARD),
        Place("asia", STANDARD),
    ]


def test_premium_comes_only_after_every_standard_place_failed_and_the_oldest_standard_failure_closes_the_list():
    places = placement.candidates(POLICY, STANDARD)
    failures = {Place(a, STANDARD): NOW - timedelta(minutes=m) for a, m in (("east", 1), ("west", 5), ("asia", 2))}
    assert placement.order(places, STANDARD, failures, NOW, WINDOW) == [
        Place("east", PREMIUM),
        Place("west", PREMIUM),
        Place("asia", PREMIUM),
        Place("west", STANDARD),  # if the budget pays no Premium: where Standard failed longest ago
    ]
    everywhere = failures | {Place(a, PREMIUM): NOW for a in ("east", "west", "asia")}
    assert placement.order(places, STANDARD, everywhere, NOW, WINDOW) == [Place("west", STANDARD)]
    assert placement.free(places, everywhere, NOW, WINDOW) == []  # an automatic retry goes nowhere


def test_an_account_may_have_rates_of_its_own():
    assert POLICY.rate(STANDARD, "west") == 4 * MICROS
    assert POLICY.rate(PREMIUM, "west") == 9 * MICROS  # no Premium rate of its own: the project's
    assert POLICY.rate(STANDARD, "east") == POLICY.rate(STANDARD) == 3 * MICROS


def test_next_attempt_ids_are_derived_so_two_starters_start_one():
    plan = RetryPlan(STANDARD, first="s-0")
    first_next = placement.next_attempt_id("alpha", plan)
    assert first_next == placement.next_attempt_id("alpha", plan) != placement.next_attempt_id("beta", plan)
    keyed = RetryPlan(STANDARD, idempotency_key="order-1", attempt=2)
    assert placement.next_attempt_id("alpha", keyed) == session_id_for("alpha", "order-1", 3)
    assert placement.next_attempt_id("alpha", RetryPlan(STANDARD, attempt=7)) is None  # eight attempts at most


def session(status=SessionStatus.ERROR, code=None, message=None) -> Session:
    return Session("s", "east", status, STANDARD, timedelta(0), timedelta(minutes=30), message=message, error_code=code)


def test_arr_capacity_answer_is_told_from_other_errors_on_both_api_generations():
    assert placement.capacity_failed(session(code="InsufficientCapacity", message="..."))
    v1 = "There is not enough capacity to start a Standard session. Try again later."
    assert placement.capacity_failed(session(message=v1))
    assert not placement.capacity_failed(session(code="InternalServerError", message="boom"))
    assert not placement.capacity_failed(session(SessionStatus.STOPPED, code="InsufficientCapacity"))
    assert not placement.capacity_failed(None)


def test_a_request_without_placement_fields_keeps_its_fingerprint():
    request = parse_session_request({"size": "Standard", "maxLeaseTime": 60, "models": ["builtin://Engine"]})
    old = hashlib.sha256(json.dumps(["Standard", 60, ["builtin://Engine"]], separators=(",", ":")).encode())
    assert request.fingerprint() == old.hexdigest()[:32]
    regions = parse_session_request({"size": "Standard", "maxLeaseTime": 60, "regions": ["east"], "autoRetry": True})
    assert regions.fingerprint() != parse_session_request({"size": "Standard", "maxLeaseTime": 60}).fingerprint()


# ---------------------------------------------------------------- the policy document
DOC = {"name": "alpha", "allowedSizes": ["Standard", "Premium"], "rates": {"Standard": "3", "Premium": "9"}}


def error(doc) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        policy_from_document(doc)
    return caught.value


def test_placement_and_size_fallback_round_trip_through_the_document_and_the_table_row():
    doc = {**DOC, "placement": ["east", {"account": "west", "rates": {"Standard": "4"}}], "sizeFallback": "premium"}
    policy = policy_from_document(doc).policy
    assert policy.account == "east" and policy.accounts == ("east", "west")
    assert policy.rate(STANDARD, "west") == 4 * MICROS and policy.size_fallback is SizeFallback.PREMIUM
    written = policy_to_document(policy)
    assert written["placement"] == ["east", {"account": "west", "rates": {"Standard": "4.000000"}}]
    assert policy_from_document(written).policy == policy
    assert entity_to_policy(policy_to_entity(policy, "project")) == policy
    default = policy_from_document(DOC).policy
    assert policy_to_document(default)["placement"] == ["default"] and default.placement == ()


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ({"placement": []}, "placement", "1-16 accounts"),
        ({"placement": ["east", "east"]}, "placement[1]", "listed twice"),
        ({"placement": ["east", "no way"]}, "placement[1]", "letters, digits"),
        ({"placement": [{"rates": {}}]}, "placement[0].account", "required"),
        ({"placement": [{"account": "east", "rate": {}}]}, "placement[0].rate", "unknown field"),
        ({"placement": [{"account": "east", "rates": {"Huge": "1"}}]}, "placement[0].rates.Huge", "VM size"),
        ({"account": "west", "placement": ["east", "west"]}, "account", "first account of placement"),
        ({"sizeFallback": "larger"}, "sizeFallback", "none or premium"),
        ({"allowedSizes": ["Standard"], "sizeFallback": "premium"}, "sizeFallback", "Premium in allowedSizes"),
    ],
)
def test_a_bad_placement_is_refused_naming_the_field(extra, field, words):
    problem = error({**DOC, **extra})
    assert problem.field == field and words in problem.message


def test_an_attempt_row_keeps_its_plan_and_a_plain_one_has_none():
    plan = RetryPlan(STANDARD, ("west",), True, ("builtin://Engine",), "order-1", 2, "s-0")
    entry = LedgerEntry("alpha", "s-2", "west", PREMIUM, LedgerState.PENDING, NOW, timedelta(minutes=30), plan=plan)
    assert entity_to_entry(entry_to_entity(entry, "open|s-2")).plan == plan
    assert placement.keeps_plan(RetryPlan(STANDARD), Place("east", PREMIUM))  # a fallback says so
    assert not placement.keeps_plan(RetryPlan(STANDARD), Place("east", STANDARD))


def test_the_documented_request_fields_are_the_ones_the_gate_enforces():
    """At each boundary the OpenAPI schema and the parser agree on `regions` and `autoRetry`."""
    from jsonschema import Draft202012Validator

    import function_app
    from governor.functions import openapi_doc

    document = openapi_doc.document(openapi_doc.registered_functions(function_app.app))
    schema = {**document["components"]["schemas"]["SessionRequest"], "components": document["components"]}
    valid = Draft202012Validator(schema).is_valid
    base = {"size": "Standard", "maxLeaseTime": 30}
    bodies = [
        {**base, "regions": [f"r{i}" for i in range(16)]},
        {**base, "regions": [f"r{i}" for i in range(17)]},
        {**base, "regions": []},
        {**base, "regions": ["east", "east"]},
        {**base, "regions": ["east\n"]},
        {**base, "autoRetry": True},
        {**base, "autoRetry": "yes"},
    ]

    def gate_accepts(body) -> bool:
        try:
            parse_session_request(body)
        except Refusal:
            return False
        return True

    assert (
        [valid(b) for b in bodies]
        == [gate_accepts(b) for b in bodies]
        == [True, False, False, False, False, True, False]
    )
