"""Per-caller limits in the admission decision, and the body that adds a key."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from governor.core.model import MICROS, CallerFigures, CallerLimits, Period, ProjectPolicy, Usage, VmSize
from governor.core.policy.callers import acting_principal, parse_new_key
from governor.core.policy.gate import SessionRequest, admit
from governor.service.ports import AdmissionSnapshot, Refusal

NOW = datetime(2026, 11, 24, 10, tzinfo=UTC)
POLICY = ProjectPolicy(
    name="alpha", rates={VmSize.STANDARD: 6 * MICROS}, daily_budget=100 * MICROS, monthly_budget=500 * MICROS,
    max_concurrent=10,
)  # fmt: skip
HALF_HOUR = SessionRequest(VmSize.STANDARD, timedelta(minutes=30))  # costs 3


def snap(active=0, reserved=0, day=0, month=0, project_active=0) -> AdmissionSnapshot:
    usage = {
        p: Usage("alpha", p, p.key(NOW), budget) for p, budget in ((Period.DAY, 100 * MICROS), (Period.MONTH, None))
    }
    caller = CallerFigures("kiosk", active, reserved, {Period.DAY: day, Period.MONTH: month})
    return AdmissionSnapshot(POLICY, project_active, usage, caller)


def decide(snapshot, limits) -> int:
    return admit(HALF_HOUR, replace(snapshot, caller_limits=limits))


def refusal(limits, snapshot) -> Refusal:
    with pytest.raises(Refusal) as caught:
        decide(snapshot, limits)
    return caught.value


def test_no_limits_admit_as_the_project_would():
    assert decide(snap(active=50), None) == 3 * MICROS
    assert decide(snap(active=50), CallerLimits()) == 3 * MICROS


@pytest.mark.parametrize(("active", "admitted"), [(1, True), (2, False), (3, False)])
def test_caller_concurrency_boundary(active, admitted):
    limits = CallerLimits(max_concurrent=2)
    if admitted:
        assert decide(snap(active=active), limits) == 3 * MICROS
    else:
        refused = refusal(limits, snap(active=active))
        assert refused.reason == "concurrency-limit"
        assert refused.figures == {"activeSessions": active, "maxConcurrent": 2, "limit": "caller", "caller": "kiosk"}


@pytest.mark.parametrize(
    ("limits", "figures", "admitted"),
    [
        (CallerLimits(daily_budget=10 * MICROS), dict(day=7 * MICROS), True),  # exactly 3 left
        (CallerLimits(daily_budget=10 * MICROS), dict(day=7 * MICROS + 1), False),
        (CallerLimits(daily_budget=10 * MICROS), dict(day=4 * MICROS, reserved=4 * MICROS), False),  # held counts
        (CallerLimits(monthly_budget=20 * MICROS), dict(month=18 * MICROS), False),
        (CallerLimits(monthly_budget=20 * MICROS), dict(day=99 * MICROS), True),  # day spend is not month's limit
    ],
)
def test_caller_budget_counts_spent_and_reserved(limits, figures, admitted):
    if admitted:
        assert decide(snap(**figures), limits) == 3 * MICROS
    else:
        refused = refusal(limits, snap(**figures))
        assert (refused.reason, refused.figures["limit"], refused.figures["caller"]) == (
            "budget-exhausted",
            "caller",
            "kiosk",
        )


def test_the_project_is_checked_first():
    refused = refusal(CallerLimits(max_concurrent=1), snap(active=5, project_active=10))
    assert refused.reason == "concurrency-limit" and "limit" not in refused.figures


def test_new_key_limits_must_fit_within_the_project():
    new = parse_new_key({"name": "kiosk", "maxConcurrent": 10, "dailyBudget": 100, "monthlyBudget": "500"}, POLICY, NOW)
    assert new.limits == CallerLimits(10, 100 * MICROS, 500 * MICROS)
    for body, field in (
        ({"name": "kiosk", "maxConcurrent": 11}, "maxConcurrent"),
        ({"name": "kiosk", "dailyBudget": "100.000001"}, "dailyBudget"),
        ({"name": "kiosk", "monthlyBudget": 501}, "monthlyBudget"),
        ({"name": "kiosk", "expiresAt": NOW.isoformat()}, "expiresAt"),
        ({"name": "x" * 64}, "name"),
        ({"name": "-lead"}, "name"),
        ({"name": "a|b"}, "name"),
        ([], "body"),
    ):
        with pytest.raises(Refusal) as caught:
            parse_new_key(body, POLICY, NOW)
        assert caught.value.figures["field"] == field, body


def test_principal_limits_in_the_policy_document():
    from governor.core.policy import document as documents

    doc = {"name": "alpha", "rates": {"Standard": 6}, "budget": {"daily": 100}, "maxConcurrent": 4}
    spec = documents.policy_from_document({**doc, "principalLimits": {"OID-1": {"maxConcurrent": 1}}})
    assert spec.policy.principal_limits == {"oid-1": CallerLimits(max_concurrent=1)}
    with pytest.raises(documents.PolicyError) as caught:
        documents.policy_from_document({**doc, "principalLimits": {"oid-1": {"dailyBudget": 101}}})
    assert caught.value.field == "principalLimits.oid-1.dailyBudget"


def test_an_extension_is_bounded_by_the_callers_budget_too():
    from governor.core.model import LedgerEntry, LedgerState
    from governor.core.policy.gate import decide_extension

    entry = LedgerEntry(
        "alpha", "s1", "default", VmSize.STANDARD, LedgerState.ACTIVE, NOW, timedelta(minutes=30),
        rate=6 * MICROS, reserved=3 * MICROS, caller="kiosk",
    )  # fmt: skip
    usage = snap().usage  # the project has 100 left
    limits = CallerLimits(daily_budget=5 * MICROS)
    figures = CallerFigures("kiosk", 1, 3 * MICROS, {Period.DAY: 0})  # 2.00 of its 5.00 left: 20 more minutes
    extension = decide_extension(POLICY, entry, timedelta(minutes=25), usage, None, NOW, limits, figures)
    assert extension.lease == timedelta(minutes=50) and extension.partial  # not 25 + 30 = 55
    spent = CallerFigures("kiosk", 1, 3 * MICROS, {Period.DAY: 2 * MICROS})
    with pytest.raises(Refusal) as caught:
        decide_extension(POLICY, entry, timedelta(minutes=25), usage, None, NOW, limits, spent)
    assert caught.value.reason == "budget-exhausted"
    assert (caught.value.figures["limit"], caught.value.figures["caller"]) == ("caller", "kiosk")
    unbounded = decide_extension(POLICY, entry, timedelta(minutes=25), usage, None, NOW)
    assert unbounded.lease == timedelta(minutes=55)


@pytest.mark.parametrize(
    ("matched", "limited", "chosen"),
    [
        ({"role:a", "role:b"}, {"role:b"}, "role:b"),  # limited before unlimited
        ({"role:a", "role:b"}, set(), "role:a"),  # then by name
        ({"role:a", "zz-oid"}, {"role:a"}, "zz-oid"),  # a person's own listing before any role
        ({"ada@example.com", "zz-oid"}, {"zz-oid"}, "zz-oid"),
        ({"ada@example.com", "zz-oid"}, {"ada@example.com", "zz-oid"}, "ada@example.com"),
    ],
)
def test_the_principal_a_caller_acts_as(matched, limited, chosen):
    limits = {name: CallerLimits(max_concurrent=1) for name in limited}
    assert acting_principal(matched, limits) == chosen
