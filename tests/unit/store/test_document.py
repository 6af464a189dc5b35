import base64
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from governor.core.model import MICROS, VmSize
from governor.core.policy.document import (
    PolicyError,
    parse_policy_text,
    parse_projects_file,
    policy_from_document,
    policy_to_document,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "projects.json"
GOOD = {"name": "demo", "allowedSizes": ["Standard"], "rates": {"Standard": "3"}, "budget": {"daily": 10}}


def error(doc, **kw) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        policy_from_document(doc, **kw)
    return caught.value


def test_example_file_parses_and_round_trips():
    specs = parse_projects_file(EXAMPLE.read_text())
    assert [s.policy.name for s in specs] == ["demo", "design-review"]
    assert specs[0].policy.rates[VmSize.PREMIUM] == 12 * MICROS
    assert specs[1].policy.monthly_budget == 250 * MICROS and specs[1].policy.daily_budget is None
    for spec in specs:
        assert policy_from_document(policy_to_document(spec.policy)).policy == spec.policy
        assert spec.line is not None


def test_defaults_and_money_forms():
    policy = policy_from_document({**GOOD, "rates": {"standard": 2.5}}).policy
    assert policy.rates == {VmSize.STANDARD: 2_500_000} and policy.daily_budget == 10 * MICROS
    assert policy.max_lease == timedelta(hours=4) and policy.enabled


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"maxConcurrent": "2"}, "maxConcurrent", "whole number"),
        ({"maxConcurrent": True}, "maxConcurrent", "whole number"),
        ({"enabled": "yes"}, "enabled", "true or false"),
        ({"budget": {"daily": -1}}, "budget.daily", "negative"),
        ({"budget": {"daily": "abc"}}, "budget.daily", "amount"),
        ({"budget": {"daily": "0.0000001"}}, "budget.daily", "6 decimal"),
        ({"budget": {"weekly": 1}}, "budget.weekly", "unknown field"),
        ({"rates": {"Standard": -3}}, "rates.Standard", "negative"),
        ({"rates": {"Ultra": 3}}, "rates.Ultra", "unknown VM size"),
        ({"allowedSizes": ["Standard", "Huge"]}, "allowedSizes[1]", "unknown VM size"),
        ({"allowedSizes": []}, "allowedSizes", "non-empty"),
        ({"allowedSizes": ["Premium"]}, "rates", "Premium"),
        ({"colour": "red"}, "colour", "unknown field"),
        ({"maxLeaseMinutes": 0}, "maxLeaseMinutes", "between"),
        ({"maxLeaseMinutes": 600, "hardMaxMinutes": 300}, "maxLeaseMinutes", "hardMaxMinutes"),
        ({"webhookUrl": "ftp://x"}, "webhookUrl", "http"),
        ({"webhookSecret": "short"}, "webhookSecret", "whsec_"),
        ({"webhookSecret": "a-secret-of-16-chars-or-more"}, "webhookSecret", "whsec_"),
        ({"webhookSecret": "whsec_" + "QUFB" * 4}, "webhookSecret", "24-64"),  # 12 bytes: too short
        ({"webhookSecret": "whsec_" + "!" * 40}, "webhookSecret", "base64"),
        ({"name": "bad/name"}, "name", "letters"),
        ({"principals": "one"}, "principals", "array"),
    ],
)
def test_invalid_documents_name_the_field(change, field, message):
    exc = error({**GOOD, **change})
    assert exc.field == field and message in exc.message


def test_name_rules():
    assert error({k: v for k, v in GOOD.items() if k != "name"}).field == "name"
    assert policy_from_document({k: v for k, v in GOOD.items() if k != "name"}, name="x").policy.name == "x"
    assert "does not match" in str(error(GOOD, name="other"))
    assert error([1]).field == "(document)"


def test_webhook_secret_is_write_only_and_hidden():
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    spec = policy_from_document({**GOOD, "webhookSecret": secret})
    assert spec.webhook_secret == secret and secret not in repr(spec)
    assert "webhookSecret" not in policy_to_document(spec.policy)
    assert policy_from_document({**GOOD, "webhookSecret": None}).webhook_secret == ""
    assert policy_from_document(GOOD).webhook_secret is None


def test_file_errors_carry_lines():
    text = json.dumps({"projects": [GOOD, {**GOOD, "name": "b", "budget": {"daily": -5}}]}, indent=2)
    with pytest.raises(PolicyError) as caught:
        parse_projects_file(text)
    expected = next(i for i, line in enumerate(text.splitlines(), 1) if "-5" in line)
    assert caught.value.line == expected and caught.value.field == "projects[1].budget.daily"
    assert str(caught.value).startswith(f"line {expected}: projects[1].budget.daily")


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        ('{"projects": [\n{"name": "a",\n "name": "b"}]}', "projects[0].name", 3),
        ('{"projects": [\n  {"name": "a", }\n]}', "(file)", 2),
        ('{"projects": {}}', "projects", 1),
        ('{"project": []}', "project", 1),
        (
            '{"projects": [{"name": "a", "rates": {"Standard": 1}},\n {"name": "a", "rates": {"Standard": 1}}]}',
            "projects[1].name",
            2,
        ),
        ('{"projects": [{"name": "a", "budget": {"daily": NaN}}]}', "(file)", 1),
    ],
)
def test_file_structure_errors(text, field, line):
    with pytest.raises(PolicyError) as caught:
        parse_projects_file(text)
    assert (caught.value.field, caught.value.line) == (field, line)


def test_decimal_numbers_never_pass_through_float():
    spec = parse_policy_text('{"name": "a", "rates": {"Standard": 0.1}, "budget": {"daily": 12345678.123456}}')
    assert spec.policy.daily_budget == int(Decimal("12345678.123456") * MICROS)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"account": "main\n"}, "account"),
        ({"currency": "EUR\n"}, "currency"),
        ({"principals": ["alice\n"]}, "principals[0]"),
        ({"name": "demo\n"}, "name"),
    ],
)
def test_a_trailing_newline_is_refused(change, field):
    assert error({**GOOD, **change}).field == field
    trimmed = {
        key: value.rstrip() if isinstance(value, str) else [v.rstrip() for v in value] for key, value in change.items()
    }
    assert policy_from_document({**GOOD, **trimmed}).policy  # the same value without the newline passes


def test_one_rate_per_size_whatever_the_case():
    exc = error({**GOOD, "rates": {"Standard": 3, "standard": 4}})
    assert exc.field == "rates.standard" and "duplicate" in exc.message and "'Standard'" in exc.message
    assert policy_from_document({**GOOD, "rates": {"standard": 4}}).policy.rates == {VmSize.STANDARD: 4 * MICROS}


def test_one_limit_per_principal_whatever_the_case():
    limits = {"Alice@Example.com": {"maxConcurrent": 1}, "alice@example.com": {"maxConcurrent": 1}}
    exc = error({**GOOD, "maxConcurrent": 2, "principalLimits": limits})
    assert exc.field == "principalLimits.alice@example.com" and "duplicate principal" in exc.message
    one = {"Alice@Example.com": {"maxConcurrent": 1}}
    assert list(policy_from_document({**GOOD, "maxConcurrent": 2, "principalLimits": one}).policy.principal_limits) == [
        "alice@example.com"
    ]
