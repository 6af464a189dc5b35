"""Body validation: every malformed body is a bad-request Refusal naming the field."""

from datetime import timedelta

import pytest

from governor.core.model import VmSize
from governor.core.policy.gate import parse_extend_request, parse_session_request
from governor.service.ports import Refusal


def refused_field(body) -> str:
    with pytest.raises(Refusal) as caught:
        parse_session_request(body)
    assert caught.value.reason == "bad-request"
    return caught.value.figures["field"]


def test_minutes_number_and_timespan_string_mean_the_same_lease():
    by_number = parse_session_request({"size": "standard", "maxLeaseTime": 90})
    by_timespan = parse_session_request({"size": "Standard", "maxLeaseTime": "01:30:00"})
    assert by_number == by_timespan
    assert by_number.size is VmSize.STANDARD and by_number.lease == timedelta(minutes=90)


def test_models_are_kept_in_order():
    request = parse_session_request(
        {"size": "Premium", "maxLeaseTime": 30.0, "models": ["https://x/a.arrAsset", "builtin://Engine"]}
    )
    assert request.models == ("https://x/a.arrAsset", "builtin://Engine")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ("size=Standard", "body"),
        ({"maxLeaseTime": 30}, "size"),
        ({"size": "Standard"}, "maxLeaseTime"),
        ({"size": "Huge", "maxLeaseTime": 30}, "size"),
        ({"size": 1, "maxLeaseTime": 30}, "size"),
        ({"size": "Standard", "maxLeaseTime": True}, "maxLeaseTime"),
        ({"size": "Standard", "maxLeaseTime": 30.5}, "maxLeaseTime"),
        ({"size": "Standard", "maxLeaseTime": 0}, "maxLeaseTime"),
        ({"size": "Standard", "maxLeaseTime": -5}, "maxLeaseTime"),
        ({"size": "Standard", "maxLeaseTime": 10**30}, "maxLeaseTime"),
        ({"size": "Standard", "maxLeaseTime": 10**400}, "maxLeaseTime"),  # too big for a float
        ({"size": "Standard", "maxLeaseTime": -(10**400)}, "maxLeaseTime"),
        ({"size": "Standard", "maxLeaseTime": float("inf")}, "maxLeaseTime"),
        ({"size": "Standard", "maxLeaseTime": float("nan")}, "maxLeaseTime"),
        ({"size": "Standard", "maxLeaseTime": "1:00:30"}, "maxLeaseTime"),
        ({"size": "Standard", "maxLeaseTime": "soon"}, "maxLeaseTime"),
        ({"size": "Standard", "maxLeaseTime": "-01:00:00"}, "maxLeaseTime"),
        ({"size": "Standard", "maxLeaseTime": [30]}, "maxLeaseTime"),
        ({"size": "Standard", "maxLeaseTime": 30, "models": "https://x"}, "models"),
        ({"size": "Standard", "maxLeaseTime": 30, "models": ["ftp://x"]}, "models[0]"),
        ({"size": "Standard", "maxLeaseTime": 30, "models": ["https://a", 7]}, "models[1]"),
        ({"size": "Standard", "maxLeaseTime": 30, "models": ["https://a b"]}, "models[0]"),
        ({"size": "Standard", "maxLeaseTime": 30, "models": ["https://a"] * 65}, "models"),
        ({"size": "Standard", "maxLeaseTime": 30, "priority": "high"}, "priority"),
    ],
)
def test_bad_bodies_name_the_field(body, field):
    assert refused_field(body) == field


def test_extend_body_is_optional_and_strict():
    assert parse_extend_request(None) is None
    assert parse_extend_request({}) is None
    assert parse_extend_request({"maxLeaseTime": "02:00:00"}) == timedelta(hours=2)
    with pytest.raises(Refusal) as caught:
        parse_extend_request({"extendBy": 30})
    assert caught.value.figures["field"] == "extendBy"
    with pytest.raises(Refusal) as caught:
        parse_extend_request({"maxLeaseTime": 10**400})
    assert caught.value.figures["field"] == "maxLeaseTime"


@pytest.mark.parametrize(
    "parse", [parse_session_request, lambda body: parse_extend_request({"maxLeaseTime": body["maxLeaseTime"]})]
)
def test_the_lease_is_bounded_by_arrs_longest_lease_in_minutes(parse):
    """1440 minutes (ARR's longest lease) passes the parser; one minute more is a 400 in every form."""
    for ok in (1440, 1440.0, "1.00:00:00", "23:59:00"):
        lease = parse({"size": "Standard", "maxLeaseTime": ok})
        assert (lease if isinstance(lease, timedelta) else lease.lease) <= timedelta(minutes=1440)
    for too_long in (1441, 86_400, 86_401, "1.00:01:00", "2"):
        with pytest.raises(Refusal) as caught:
            parse({"size": "Standard", "maxLeaseTime": too_long})
        assert caught.value.figures == {"field": "maxLeaseTime"} and "at most 1440 minutes" in caught.value.detail


def test_a_timespan_in_dotnets_general_form_is_a_lease():
    assert parse_session_request({"size": "Standard", "maxLeaseTime": "0:4:0:0"}).lease == timedelta(hours=4)
    assert parse_extend_request({"maxLeaseTime": "0:01:30:00"}) == timedelta(minutes=90)


def test_a_timespan_finer_than_a_microsecond_is_a_bad_request_not_a_whole_minute_lease():
    for parse in (parse_session_request, lambda body: parse_extend_request({"maxLeaseTime": body["maxLeaseTime"]})):
        with pytest.raises(Refusal) as caught:
            parse({"size": "Standard", "maxLeaseTime": "00:30:00.0000005"})
        assert caught.value.reason == "bad-request" and caught.value.figures == {"field": "maxLeaseTime"}
        assert "more precise than a microsecond" in caught.value.detail
    assert parse_session_request({"size": "Standard", "maxLeaseTime": "00:30:00.0000000"}).lease == timedelta(
        minutes=30
    )


def test_a_timespan_in_non_ascii_digits_is_a_bad_request():
    assert parse_session_request({"size": "Standard", "maxLeaseTime": "01:30:00"}).lease == timedelta(minutes=90)
    assert (
        refused_field({"size": "Standard", "maxLeaseTime": "\u0660\u0661:\u0663\u0660:\u0660\u0660"}) == "maxLeaseTime"
    )
