"""Money as text, defined once in the model: `format_money` for people (refusals, pages, the demo)
and `money_text` for machines (API figures, policy documents)."""

from datetime import timedelta

import pytest

from governor.core.model import (
    MICROS,
    LedgerEntry,
    LedgerState,
    Period,
    ProjectPolicy,
    Usage,
    VmSize,
    format_money,
    money_text,
)
from governor.core.policy.document import policy_from_document, policy_to_document
from governor.core.policy.gate import SessionRequest, admit, decide_extension
from governor.service.ports import AdmissionSnapshot, Refusal


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "0.00"),
        (2 * MICROS, "2.00"),
        (2_500_000, "2.50"),
        (52_500, "0.0525"),
        (1, "0.000001"),
        (1_234_567_891, "1,234.567891"),
        (1_000_000 * MICROS, "1,000,000.00"),
        (-3 * MICROS, "-3.00"),
    ],
)
def test_two_decimals_unless_more_are_needed(micros, text):
    assert format_money(micros) == text
    assert format_money(micros, "EUR") == f"{text} EUR"


def test_no_budget_reads_as_such():
    assert format_money(None) == "no budget" and format_money(None, "EUR") == "no budget"


@pytest.mark.parametrize(
    ("micros", "text"),
    [(0, "0.000000"), (3 * MICROS, "3.000000"), (52_500, "0.052500"), (1, "0.000001"), (-2_500_000, "-2.500000")],
)
def test_money_for_machines_is_exact_with_six_places(micros, text):
    assert money_text(micros) == text
    assert money_text(None) is None


def test_a_policy_document_carries_money_for_machines_and_reads_back():
    policy = ProjectPolicy("alpha", rates={VmSize.STANDARD: 52_500}, daily_budget=3 * MICROS, monthly_budget=None)
    document = policy_to_document(policy)
    assert document["rates"] == {"Standard": "0.052500"}
    assert document["budget"] == {"daily": "3.000000", "monthly": None}
    assert policy_from_document(document).policy == policy


def eur_policy() -> ProjectPolicy:
    return ProjectPolicy(
        "alpha", currency="EUR", rates={VmSize.STANDARD: 2 * MICROS}, daily_budget=3 * MICROS + 250_000
    )


def test_a_budget_refusal_shows_money_for_people():
    pol = eur_policy()
    usage = {Period.DAY: Usage("alpha", Period.DAY, "2026-11-26", pol.daily_budget, spent=2 * MICROS)}
    with pytest.raises(Refusal) as caught:
        admit(SessionRequest(VmSize.STANDARD, timedelta(hours=1)), AdmissionSnapshot(pol, 0, usage))
    assert caught.value.detail == "the lease costs 2.00 EUR; 1.25 EUR remain"
    assert caught.value.figures["cost"] == "2.000000"  # the machine figure stays exact


def test_an_extension_refusal_shows_money_for_people():
    pol = eur_policy()
    entry = LedgerEntry(
        "alpha", "s1", "default", VmSize.STANDARD, LedgerState.ACTIVE, None, timedelta(minutes=60), rate=2 * MICROS
    )
    usage = {Period.DAY: Usage("alpha", Period.DAY, "2026-11-26", pol.daily_budget, spent=3 * MICROS + 230_000)}
    with pytest.raises(Refusal) as caught:
        decide_extension(pol, entry, timedelta(minutes=55), usage)
    assert caught.value.detail.endswith("(0.02 EUR left)")
