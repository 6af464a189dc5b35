"""Paths the type-checking pass (issue 26) reshaped: answers with fields left out or of the wrong
kind must still give clear typed errors (never AttributeError or TypeError), and the rest keeps
its behaviour."""

from datetime import timedelta

import pytest

from governor.arr import wire_2021, wire_v1
from governor.arr.errors import ArrBadResponse
from governor.arr.wire import error_details
from governor.core.model import SessionStatus, VmSize, format_money
from governor.core.policy import document as documents
from governor.core.policy.limits import webhook_target

READY_2021 = {
    "id": "rr-1",
    "elapsedTimeMinutes": 3,
    "maxLeaseTimeMinutes": 15,
    "size": "Standard",
    "status": "Ready",
}
READY_V1 = {
    "sessionElapsedTime": "00:00:01",
    "sessionId": "e13d2c44-63e0-4591-991e-f9e05e599a93",
    "sessionMaxLeaseTime": "04:00:00",
    "sessionStatus": "Ready",
}


@pytest.mark.parametrize("field", ["id", "status", "size", "elapsedTimeMinutes", "maxLeaseTimeMinutes"])
@pytest.mark.parametrize("how", ["left out", "null"])
def test_2021_required_fields_left_out_are_bad_responses(field, how):
    body = {k: v for k, v in READY_2021.items() if k != field} if how == "left out" else {**READY_2021, field: None}
    with pytest.raises(ArrBadResponse, match=f"'{field}' is missing"):
        wire_2021.session(body, "a", "get", "cv.1")


@pytest.mark.parametrize("field", ["sessionId", "sessionStatus", "sessionElapsedTime", "sessionMaxLeaseTime"])
def test_v1_required_fields_left_out_are_bad_responses(field):
    with pytest.raises(ArrBadResponse, match=f"'{field}' is missing"):
        wire_v1.session({k: v for k, v in READY_V1.items() if k != field}, "a", "get")


@pytest.mark.parametrize("body", [{}, {"sessionId": None}, {"sessionId": 7}, None, []])
def test_v1_create_answer_without_a_string_id_is_a_bad_response(body):
    with pytest.raises(ArrBadResponse, match="create response"):
        wire_v1.created_id(body, "create", "cv.2")


def test_optional_size_and_enums_keep_their_types():
    s = wire_v1.session({**READY_V1, "sessionSize": "premium"}, "a", "get")
    assert s.size is VmSize.PREMIUM and s.status is SessionStatus.READY
    assert wire_2021.session(READY_2021, "a", "get").max_lease == timedelta(minutes=15)


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"error": {"code": "TooMany", "message": "slow down"}}, ("TooMany", "slow down")),
        ({"error": "text, not an object", "Code": "Flat", "Message": "m"}, ("Flat", "m")),
        ({"error": None, "code": "C"}, ("C", None)),
        ({}, (None, None)),
        ("not json object", (None, None)),
    ],
)
def test_error_details_reads_nested_flat_and_odd_bodies(body, details):
    assert error_details(body) == details


@pytest.mark.parametrize("closing", [None, 3, ["stop"], "later"])
def test_schedule_closing_that_is_not_stop_or_finish_is_refused(closing):
    doc = {
        "name": "alpha",
        "rates": {"Standard": 3},
        "maxLeaseMinutes": 240,
        "schedule": {"timeZone": "Europe/Berlin", "hours": {"tue": ["08:00-18:00"]}, "closing": closing},
    }
    with pytest.raises(documents.PolicyError, match="must be stop or finish"):
        documents.policy_from_document(doc)


def test_projects_file_duplicate_names_are_refused_with_lines():
    text = '{"projects": [\n{"name": "a", "rates": {"Standard": 1}},\n{"name": "a", "rates": {"Standard": 1}}\n]}'
    with pytest.raises(documents.PolicyError, match=r"duplicate project \(first at projects\[0\]\)") as caught:
        documents.parse_projects_file(text)
    assert caught.value.line == 3


@pytest.mark.parametrize(
    ("micros", "text"), [(1_234_500_000, "1,234.50 EUR"), (52_500, "0.0525 EUR"), (0, "0.00 EUR"), (None, "no budget")]
)
def test_format_money_places(micros, text):
    assert format_money(micros, "EUR" if micros is not None else "") == text


@pytest.mark.parametrize("url", ["https://10.0.0.1/hook", "https://[::1]/hook", "https://127.0.0.1/hook"])
def test_webhook_addresses_of_either_family_are_checked(url):
    with pytest.raises(ValueError):
        webhook_target(url)


def test_webhook_public_addresses_of_either_family_are_kept():
    assert str(webhook_target("https://8.8.8.8/h").address) == "8.8.8.8"
    assert webhook_target("https://[2001:4860:4860::8888]/h").host == "2001:4860:4860::8888"
