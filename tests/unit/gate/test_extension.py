"""Extension: total since start from elapsed, never shorter, within hard cap and budget."""

from datetime import UTC, datetime, timedelta

import pytest

from governor.arr import errors as arr
from governor.core.errors import Rejected, Unavailable
from governor.core.model import MICROS, LedgerEntry, LedgerState, Period, ProjectPolicy, Usage, VmSize
from governor.core.policy.extension import APPLIED, REFUSED, UNKNOWN, failed_update
from governor.core.policy.gate import decide_extension, extension_outlook
from governor.service.ports import Refusal

RATE = 6 * MICROS  # per hour: 0.1 per minute
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def policy(**overrides) -> ProjectPolicy:
    fields = {
        "name": "alpha",
        "rates": {VmSize.STANDARD: RATE},
        "daily_budget": 100 * MICROS,
        "hard_max_duration": timedelta(hours=3),
        "extension_step": timedelta(minutes=30),
        "extension_threshold": timedelta(minutes=10),
    }
    return ProjectPolicy(**(fields | overrides))


def entry(lease_minutes: int = 60) -> LedgerEntry:
    return LedgerEntry(
        project="alpha",
        session_id="s1",
        account="default",
        size=VmSize.STANDARD,
        state=LedgerState.ACTIVE,
        requested_at=NOW,
        lease=timedelta(minutes=lease_minutes),
        rate=RATE,
    )


def usage(remaining: int | None) -> dict:
    if remaining is None:
        return {Period.DAY: Usage("alpha", Period.DAY, "2026-11-26", None)}
    return {Period.DAY: Usage("alpha", Period.DAY, "2026-11-26", 100 * MICROS, spent=100 * MICROS - remaining)}


def test_new_lease_is_elapsed_plus_step_not_lease_plus_step():
    extension = decide_extension(policy(), entry(60), timedelta(minutes=55), usage(None))
    assert extension.lease == timedelta(minutes=85)
    assert extension.extra_cost == 25 * MICROS // 10
    assert not extension.partial


def test_requested_total_is_granted_as_asked():
    extension = decide_extension(policy(), entry(60), timedelta(minutes=5), usage(None), timedelta(minutes=90))
    assert extension.lease == timedelta(minutes=90)


def test_never_shorter_than_the_current_lease():
    with pytest.raises(Refusal) as caught:
        decide_extension(policy(), entry(60), timedelta(minutes=10), usage(None))
    assert caught.value.reason == "extension-denied"
    assert caught.value.figures["limit"] == "lease-covers"
    with pytest.raises(Refusal):
        decide_extension(policy(), entry(60), timedelta(minutes=10), usage(None), timedelta(minutes=45))


def test_hard_cap_trims_then_refuses():
    extension = decide_extension(policy(), entry(170), timedelta(minutes=165), usage(None))
    assert extension.lease == timedelta(hours=3)
    with pytest.raises(Refusal) as caught:
        decide_extension(policy(), entry(180), timedelta(minutes=178), usage(None))
    assert (caught.value.reason, caught.value.figures["limit"]) == ("extension-denied", "hard-cap")


def test_budget_grants_what_it_can_pay_for_then_refuses():
    extension = decide_extension(policy(), entry(60), timedelta(minutes=55), usage(MICROS))  # 10 minutes' worth
    assert extension.lease == timedelta(minutes=70)
    assert extension.partial
    assert extension.extra_cost == MICROS
    with pytest.raises(Refusal) as caught:
        decide_extension(policy(), entry(60), timedelta(minutes=55), usage(MICROS // 20))
    assert caught.value.reason == "budget-exhausted"


def test_heartbeat_outlook_judges_the_step_at_the_threshold():
    young = extension_outlook(policy(), entry(60), timedelta(minutes=5), usage(None))
    assert young["wouldGrant"] and not young["suggest"]
    assert young["leaseMinutes"] == 80
    due = extension_outlook(policy(), entry(60), timedelta(minutes=52), usage(None))
    assert due["wouldGrant"] and due["suggest"]
    broke = extension_outlook(policy(), entry(60), timedelta(minutes=52), usage(0))
    assert broke == {"wouldGrant": False, "reason": "budget-exhausted", "detail": broke["detail"], "suggest": False}


def test_after_a_failed_lease_update_the_money_goes_back_only_when_arr_did_nothing():
    target, old = timedelta(minutes=90), timedelta(minutes=30)
    refusals = [arr.ArrRequestError("lease", status=422), arr.ArrRequestError("lease", status=400), Rejected()]
    ambiguous = [
        arr.ArrUnavailable("timed out", indeterminate=True),  # the PATCH may land after the read
        arr.ArrUnavailable("down", status=503),
        arr.ArrUnavailable("dropped", indeterminate=False),  # a transient failure: unknown
        Unavailable(),
        RuntimeError("a bug"),
    ]
    for error in refusals + ambiguous:
        assert failed_update(error, target, target) == APPLIED  # ARR holds it: a success after all
        assert failed_update(error, target + timedelta(minutes=5), target) == APPLIED
        assert failed_update(error, None, target) == UNKNOWN  # ARR unreadable: keep the money
    assert [failed_update(e, old, target) for e in refusals] == [REFUSED] * len(refusals)
    assert [failed_update(e, old, target) for e in ambiguous] == [UNKNOWN] * len(ambiguous)
    # ARR reports whole minutes: a lease within the target's minute is the target
    assert failed_update(refusals[0], target - timedelta(seconds=30), target) == APPLIED
