"""Issue 22, items 5, 7 and 8: admin and client input that was accepted wrongly, or answered with a 500,
is a 400 naming the field (or a settings error), by one rule each (governor/core/policy/limits.py)."""

from datetime import UTC, datetime

import azure.functions as func
import pytest

from governor.core.errors import Refusal
from governor.core.model import MICROS, ProjectPolicy, VmSize
from governor.core.policy import schedule as hours
from governor.core.policy.callers import parse_new_key
from governor.core.policy.document import PolicyError, policy_from_document, schedule_from_document
from governor.core.policy.gate import parse_session_request
from governor.functions.gate import _period_param
from governor.functions.openapi_schemas import SCHEMAS
from governor.settings import SettingsError, load

GOOD = {"name": "demo", "allowedSizes": ["Standard"], "rates": {"Standard": "3"}, "budget": {"daily": 10}}
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def error(doc) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        policy_from_document(doc)
    return caught.value


# ---------------------------------------------------------------- time zones
@pytest.mark.parametrize(
    "zone",
    [
        *("Europe", "Asia", "America", "America/", "localtime", "posixrules", "Factory", "right/UTC"),
        *("posix/Europe/Berlin", "EST5EDT", "CST6CDT", "EST", "europe/berlin", "Europe/Berlin\n", " UTC"),
        "Europe//Berlin",
    ],
)
def test_a_zone_must_be_a_canonical_iana_name(zone):
    caught = error({**GOOD, "schedule": {"timeZone": zone}})
    assert caught.field == "schedule.timeZone"


@pytest.mark.parametrize("zone", ["Europe/Berlin", "UTC", "America/New_York", "Asia/Kolkata", "Etc/GMT-2"])
def test_real_zones_pass(zone):
    assert policy_from_document({**GOOD, "schedule": {"timeZone": zone}}).policy.schedule.time_zone == zone


def test_a_zone_stored_before_the_rule_still_loads():
    stored = {"timeZone": "EST5EDT", "hours": {}, "holidays": [], "closing": "stop", "warnBeforeMinutes": None}
    assert schedule_from_document(stored).time_zone == "EST5EDT"  # read back, not refused: no 500 on reads
    with pytest.raises(hours.ScheduleError):
        hours.zone("Europe")  # a directory: a refusal, not IsADirectoryError


# ---------------------------------------------------------------- dates
@pytest.mark.parametrize(
    "day", ["2026-W52-4", "20261224", "2026-12-24T00:00", "٢٠٢٦-١٢-٢٤", "2026-13-01", "2026-02-30"]
)
def test_a_holiday_is_strictly_yyyy_mm_dd(day):
    caught = error({**GOOD, "schedule": {"timeZone": "UTC", "holidays": [day]}})
    assert caught.field == "schedule.holidays[0]"


def request(**params) -> func.HttpRequest:
    return func.HttpRequest(method="GET", url="http://x/api/projects/p/usage", params=params, body=b"")


@pytest.mark.parametrize(
    ("name", "length", "value"),
    [
        *(("day", 10, "٢٠٢٦-١٢-٠٦"), ("day", 10, "2026-12-0٦"), ("month", 7, "٢٠٢٦-١٢"), ("day", 10, "2026-W52-4")),
        *(
            ("month", 7, "2026-13"),
            ("day", 10, "2026-02-30"),
            ("day", 10, "2026-12-1٦"),
            ("day", 10, "2\u066026-12-16"),
        ),
        ("month", 7, "2\u066026-12"),
    ],
)
def test_usage_periods_take_ascii_digits_only(name, length, value):
    with pytest.raises(Refusal) as caught:
        _period_param(request(**{name: value}), name, length)
    assert caught.value.reason == "bad-request" and caught.value.figures["field"] == name


def test_usage_periods_that_are_right_pass():
    assert _period_param(request(day="2026-12-06"), "day", 10) == "2026-12-06"
    assert _period_param(request(month="2026-12"), "month", 7) == "2026-12"
    assert _period_param(request(), "day", 10) is None


@pytest.mark.parametrize(
    "value", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59.999999-00:01"]
)
def test_an_expiry_out_of_range_is_a_400_naming_the_field(value):
    with pytest.raises(Refusal) as caught:
        parse_new_key({"name": "kiosk", "expiresAt": value}, ProjectPolicy(name="p"), NOW)
    assert caught.value.reason == "bad-request" and caught.value.figures["field"] == "expiresAt"


def test_a_far_expiry_in_range_is_fine():
    key = parse_new_key({"name": "kiosk", "expiresAt": "9999-12-31T23:59:59Z"}, ProjectPolicy(name="p"), NOW)
    assert key.expires_at.year == 9999


# ---------------------------------------------------------------- money
@pytest.mark.parametrize(
    "amount",
    ["٣", "3.00\n", " 3", "1_000", "1e3", "+3", "-0", "3.", ".5", "3.0000001", "NaN", "Infinity", "\uff13", ""],
)
def test_money_text_is_ascii_digits_one_dot_six_decimals(amount):
    caught = error({**GOOD, "budget": {"daily": amount}})
    assert caught.field == "budget.daily"
    caught = error({**GOOD, "rates": {"Standard": amount}})
    assert caught.field == "rates.Standard"
    with pytest.raises(Refusal) as refused:
        parse_new_key({"name": "kiosk", "dailyBudget": amount}, ProjectPolicy(name="p", daily_budget=10**9), NOW)
    assert refused.value.figures["field"] == "dailyBudget"


@pytest.mark.parametrize(
    ("amount", "micros"), [("3", 3 * MICROS), ("3.00", 3 * MICROS), ("0.000001", 1), (2.5, 2_500_000)]
)
def test_good_money_passes(amount, micros):
    assert policy_from_document({**GOOD, "budget": {"daily": amount}}).policy.daily_budget == micros


# ---------------------------------------------------------------- sizes
@pytest.mark.parametrize("size", ["Standard\n", " Standard", "Standard ", "Stan dard", "Standard\t"])
def test_sizes_are_exact(size):
    assert error({**GOOD, "allowedSizes": [size]}).field == "allowedSizes[0]"
    assert error({**GOOD, "rates": {"Standard": 3, size: 3}}).field == f"rates.{size}"
    with pytest.raises(Refusal) as caught:
        parse_session_request({"size": size, "maxLeaseTime": 30})
    assert caught.value.figures["field"] == "size"


def test_sizes_in_any_case_still_pass():
    assert parse_session_request({"size": "premium", "maxLeaseTime": 30}).size is VmSize.PREMIUM
    assert policy_from_document({**GOOD, "rates": {"standard": 3}}).policy.rates == {VmSize.STANDARD: 3 * MICROS}


# ---------------------------------------------------------------- settings
@pytest.mark.parametrize("name", ["GOVERNOR_HISTORY_DAYS", "GOVERNOR_AUDIT_DAYS"])
@pytest.mark.parametrize("value", ["1000000", "3651", "0", "-1"])
def test_retention_days_are_bounded(name, value):
    with pytest.raises(SettingsError, match=name):
        load({name: value})


@pytest.mark.parametrize("name", ["GOVERNOR_HISTORY_DAYS", "GOVERNOR_AUDIT_DAYS"])
def test_retention_days_in_bounds_pass(name):
    assert load({name: "3650"}).get(name) == 3650 and load({name: "1"}).get(name) == 1


# ---------------------------------------------------------------- one rule, stated by the OpenAPI document
def test_the_openapi_document_states_the_rules():
    from governor.core.policy.limits import DAY, MONEY

    assert SCHEMAS["Schedule"]["properties"]["holidays"]["items"]["pattern"] == DAY.json_pattern
    assert SCHEMAS["CallerLimits"]["properties"]["dailyBudget"]["pattern"] == MONEY.json_pattern
