"""Admission: the ordered checks and the reservation they compute."""

from datetime import UTC, datetime, timedelta

import pytest

from governor.core.model import (
    MICROS,
    LedgerEntry,
    LedgerState,
    Period,
    ProjectPolicy,
    Session,
    SessionStatus,
    Usage,
    VmSize,
    made_before,
)
from governor.core.policy.gate import SessionRequest, admit, check_request
from governor.service.ports import AdmissionSnapshot, Refusal

RATE = 3 * MICROS  # per hour


def policy(**overrides) -> ProjectPolicy:
    fields = {
        "name": "alpha",
        "allowed_sizes": frozenset({VmSize.STANDARD}),
        "rates": {VmSize.STANDARD: RATE, VmSize.PREMIUM: 4 * RATE},
        "daily_budget": 10 * MICROS,
        "monthly_budget": 100 * MICROS,
        "max_concurrent": 2,
        "max_lease": timedelta(hours=2),
    }
    return ProjectPolicy(**(fields | overrides))


def snapshot(pol: ProjectPolicy, active: int = 0, day_spent: int = 0, month_spent: int = 0) -> AdmissionSnapshot:
    usage = {
        Period.DAY: Usage(pol.name, Period.DAY, "2026-11-26", pol.daily_budget, spent=day_spent),
        Period.MONTH: Usage(pol.name, Period.MONTH, "2026-11", pol.monthly_budget, spent=month_spent),
    }
    return AdmissionSnapshot(policy=pol, active_sessions=active, usage=usage)


def reason(request: SessionRequest, snap: AdmissionSnapshot) -> str:
    with pytest.raises(Refusal) as caught:
        admit(request, snap)
    return caught.value.reason


STANDARD_HOUR = SessionRequest(VmSize.STANDARD, timedelta(hours=1))


def test_admits_and_reserves_lease_times_rate():
    assert admit(STANDARD_HOUR, snapshot(policy())) == RATE
    assert admit(SessionRequest(VmSize.STANDARD, timedelta(minutes=20)), snapshot(policy())) == MICROS


def test_size_is_checked_before_lease():
    request = SessionRequest(VmSize.PREMIUM, timedelta(hours=9))
    assert reason(request, snapshot(policy())) == "size-not-allowed"


def test_lease_longer_than_policy_is_refused():
    assert reason(SessionRequest(VmSize.STANDARD, timedelta(minutes=121)), snapshot(policy())) == "lease-too-long"
    check_request(policy(), SessionRequest(VmSize.STANDARD, timedelta(minutes=120)))


def test_lease_is_also_bounded_by_the_hard_cap():
    pol = policy(max_lease=timedelta(hours=10), hard_max_duration=timedelta(hours=3))
    assert reason(SessionRequest(VmSize.STANDARD, timedelta(hours=4)), snapshot(pol)) == "lease-too-long"


def test_concurrency_before_budget():
    assert reason(STANDARD_HOUR, snapshot(policy(), active=2, day_spent=10 * MICROS)) == "concurrency-limit"


def test_budget_of_the_tightest_period_decides():
    assert admit(STANDARD_HOUR, snapshot(policy(), day_spent=7 * MICROS)) == RATE
    assert reason(STANDARD_HOUR, snapshot(policy(), day_spent=7 * MICROS + 1)) == "budget-exhausted"
    assert reason(STANDARD_HOUR, snapshot(policy(), month_spent=98 * MICROS)) == "budget-exhausted"


def test_no_budget_means_unlimited():
    pol = policy(daily_budget=None, monthly_budget=None)
    assert admit(STANDARD_HOUR, snapshot(pol, day_spent=10**12)) == RATE


def test_disabled_project_is_refused_even_inside_the_transaction():
    assert reason(STANDARD_HOUR, snapshot(policy(enabled=False))) == "forbidden"


def test_a_session_made_before_its_row_was_reserved_is_not_the_rows():
    at = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    entry = LedgerEntry("alpha", "s", "default", VmSize.STANDARD, LedgerState.PENDING, at, timedelta(minutes=60))

    def made(created):
        stopped = SessionStatus.STOPPED
        return Session("s", "default", stopped, VmSize.STANDARD, timedelta(0), timedelta(minutes=60), created=created)

    assert made_before(made(at - timedelta(days=2)), entry)
    assert not made_before(made(at - timedelta(minutes=1)), entry)  # within the clocks' skew
    assert not made_before(made(at + timedelta(seconds=3)), entry)
    assert not made_before(made(None), entry)  # v1 says nothing of when: ARR picks its ids anyway
