"""Money for people: two decimals unless the amount needs more, the same text in refusals and pages."""

from datetime import timedelta

import pytest

from governor.dashboard.fmt import money
from governor.model import MICROS, LedgerEntry, LedgerState, Period, ProjectPolicy, Usage, VmSize, format_money
from governor.policy.gate import SessionRequest, admit, decide_extension
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


def test_the_dashboard_uses_the_same_text():
    assert money(52_500, "USD") == format_money(52_500, "USD") and money(None) == "no budget"


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
