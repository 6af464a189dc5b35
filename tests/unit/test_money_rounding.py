"""Money is rounded up to a whole micro, pinned against figures worked out by hand.

Every other test prices sessions at rates that are multiples of 60 micros an hour, where a minute
costs a whole number of micros and rounding down (or truncating) gives the same answers. Here the
rates are not (7, 59, 61, 1_000_001, 3_333_333 micros an hour), so each figure below has a
remainder, and each expected value is a literal with its arithmetic beside it, never `cost_of`.
"""

from datetime import UTC, datetime, timedelta

import pytest

from governor.core.model import LedgerEntry, LedgerState, Period, ProjectPolicy, Usage, VmSize, lease_saving
from governor.core.policy.gate import SessionRequest, admit, decide_extension
from governor.core.policy.sweep import extension_cost
from governor.service.ports import AdmissionSnapshot, Refusal
from governor.store.ledger import charge

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def policy(rate: int, daily_budget: int | None = None) -> ProjectPolicy:
    return ProjectPolicy(
        name="alpha",
        rates={VmSize.STANDARD: rate},
        daily_budget=daily_budget,
        max_concurrent=5,
        max_lease=timedelta(hours=3),
        hard_max_duration=timedelta(hours=3),
        extension_step=timedelta(minutes=30),
    )


def snapshot(pol: ProjectPolicy, day_spent: int = 0) -> AdmissionSnapshot:
    usage = {Period.DAY: Usage(pol.name, Period.DAY, "2026-11-26", pol.daily_budget, spent=day_spent)}
    return AdmissionSnapshot(policy=pol, active_sessions=0, usage=usage)


def entry(rate: int, lease_minutes: int, reserved: int = 0) -> LedgerEntry:
    return LedgerEntry(
        project="alpha",
        session_id="s1",
        account="default",
        size=VmSize.STANDARD,
        state=LedgerState.ACTIVE,
        requested_at=NOW,
        lease=timedelta(minutes=lease_minutes),
        rate=rate,
        reserved=reserved,
    )


def budget_left(remaining: int) -> dict:
    return {Period.DAY: Usage("alpha", Period.DAY, "2026-11-26", 10**9, spent=10**9 - remaining)}


# ---------------------------------------------------------------- the reservation at admission
@pytest.mark.parametrize(
    ("rate", "minutes", "reserved"),
    [
        (7, 1, 1),  # 7 * 1 / 60 = 0.117 -> 1
        (7, 61, 8),  # 7 * 61 / 60 = 427 / 60 = 7.117 -> 8
        (59, 61, 60),  # 59 * 61 / 60 = 3599 / 60 = 59.98 -> 60
        (61, 59, 60),  # 61 * 59 / 60 = 3599 / 60 = 59.98 -> 60
        (61, 60, 61),  # a whole hour is the rate itself, no rounding
        (1_000_001, 7, 116_667),  # 7_000_007 / 60 = 116_666.78 -> 116_667
        (1_000_001, 35, 583_334),  # 35_000_035 / 60 = 583_333.92 -> 583_334
        (3_333_333, 1, 55_556),  # 3_333_333 / 60 = 55_555.55 -> 55_556
        (3_333_333, 18, 1_000_000),  # 59_999_994 / 60 = 999_999.9 -> 1_000_000
    ],
)
def test_the_reservation_is_the_lease_at_the_rate_rounded_up(rate, minutes, reserved):
    request = SessionRequest(VmSize.STANDARD, timedelta(minutes=minutes))
    assert admit(request, snapshot(policy(rate))) == reserved


def test_a_budget_one_micro_short_of_the_rounded_up_cost_refuses():
    request = SessionRequest(VmSize.STANDARD, timedelta(minutes=7))  # 116_667, as above
    assert admit(request, snapshot(policy(1_000_001, daily_budget=116_667))) == 116_667
    with pytest.raises(Refusal) as refused:
        admit(request, snapshot(policy(1_000_001, daily_budget=116_666)))
    assert refused.value.reason == "budget-exhausted"
    assert refused.value.figures["cost"] == "0.116667"


# ---------------------------------------------------------------- metering
def meter_each_minute(start: LedgerEntry, up_to: int) -> tuple[LedgerEntry, list[int]]:
    current, deltas = start, []
    for minute in range(1, up_to + 1):
        current, spent = charge(current, minute)
        deltas.append(spent)
    return current, deltas


def test_metering_minute_by_minute_charges_the_differences_of_the_rounded_up_totals():
    # cumulative: 1_000_001 * m / 60 rounded up
    #   m=1 16_666.68 -> 16_667   m=2 33_333.37 -> 33_334   m=3 50_000.05 -> 50_001
    #   m=4 66_666.73 -> 66_667   m=5 83_333.42 -> 83_334   m=6 100_000.1 -> 100_001
    #   m=7 116_666.78 -> 116_667
    start = entry(1_000_001, 7, reserved=116_667)
    metered, deltas = meter_each_minute(start, 7)
    assert deltas == [16_667, 16_667, 16_667, 16_666, 16_667, 16_667, 16_666]
    assert (metered.charged_minutes, metered.charged, metered.reserved) == (7, 116_667, 0)
    at_once, spent = charge(start, 7)
    assert (spent, at_once.charged, at_once.reserved) == (116_667, 116_667, 0)


def test_many_small_meterings_do_not_drift_from_one_large_one():
    # 7 micros an hour over 2 hours is 14 micros, however it is metered; rounding each minute's
    # share up instead (7 / 60 -> 1) would charge 120.
    start = entry(7, 120, reserved=14)
    metered, deltas = meter_each_minute(start, 120)
    assert sum(deltas) == 14 and metered.charged == 14 and metered.reserved == 0
    # minutes 1-8: 7 * m <= 56, so 0.117 .. 0.93 -> 1 in all; minute 9: 63 / 60 = 1.05 -> 2
    assert deltas[:9] == [1, 0, 0, 0, 0, 0, 0, 0, 1]
    # minute 61 alone: 7 * 61 / 60 = 7.117 -> 8, one more than the hour's 7
    assert charge(start, 60)[0].charged == 7 and charge(start, 61)[0].charged == 8
    halves = charge(charge(start, 59)[0], 120)[0]  # 59: 413 / 60 = 6.88 -> 7; then 14 - 7
    assert halves.charged == 14


def test_metering_is_idempotent_at_a_rounded_figure():
    once, spent = charge(entry(59, 60, reserved=59), 31)  # 59 * 31 / 60 = 1829 / 60 = 30.48 -> 31
    assert (spent, once.charged, once.reserved) == (31, 31, 28)
    again, spent = charge(once, 31)
    assert (spent, again) == (0, once)


# ---------------------------------------------------------------- extensions
def test_the_gates_extension_costs_the_rounded_up_new_lease_less_the_rounded_up_old_one():
    # lease 60 -> 90 at 61/h: 61 * 90 / 60 = 91.5 -> 92, minus the hour's 61 = 31
    extension = decide_extension(policy(61), entry(61, 60), timedelta(minutes=60), budget_left(10**6))
    assert (extension.lease, extension.extra_cost, extension.partial) == (timedelta(minutes=90), 31, False)


def test_a_budget_limited_extension_is_the_longest_lease_the_rounded_up_cost_allows():
    # lease 30 at 61/h has cost 61 * 30 / 60 = 30.5 -> 31; 5 micros left pay up to a total of 36:
    #   35 min: 2135 / 60 = 35.58 -> 36, extra 36 - 31 = 5 (fits)
    #   36 min: 2196 / 60 = 36.6  -> 37, extra 6 (does not)
    extension = decide_extension(policy(61), entry(61, 30), timedelta(minutes=28), budget_left(5))
    assert (extension.lease, extension.extra_cost, extension.partial) == (timedelta(minutes=35), 5, True)


@pytest.mark.parametrize(
    ("rate", "current", "new", "extra"),
    [
        (61, 60, 90, 31),  # 92 - 61, as above
        (61, 30, 60, 30),  # 61 - 31
        (1_000_001, 35, 60, 416_667),  # 1_000_001 - 583_334
        (7, 60, 61, 1),  # 8 - 7
    ],
)
def test_the_sweeps_extension_step_costs_the_difference_of_rounded_up_leases(rate, current, new, extra):
    assert extension_cost(rate, timedelta(minutes=current), timedelta(minutes=new)) == extra


# ---------------------------------------------------------------- settlement
def test_closing_charges_the_final_minutes_rounded_up_and_frees_the_rest_of_the_hold():
    # admitted for 60 min at 61/h: 61 held; metered at 30 min: 61 * 30 / 60 = 30.5 -> 31
    metered, spent = charge(entry(61, 60, reserved=61), 30)
    assert (spent, metered.charged, metered.reserved) == (31, 31, 30)
    # stopped at 31 min: 61 * 31 / 60 = 1891 / 60 = 31.52 -> 32, so one micro more, 29 unused
    final, spent = charge(metered, 31)
    assert (spent, final.charged, final.reserved) == (1, 32, 29)
    # a governor stop there saved the rest of the lease: 61 - 32
    assert lease_saving(61, timedelta(minutes=60), 31) == 29


def test_settling_after_every_minute_or_once_charges_the_same():
    start = entry(3_333_333, 18, reserved=1_000_000)  # 59_999_994 / 60 = 999_999.9 -> 1_000_000
    # 11 min: 36_666_663 / 60 = 611_111.05 -> 611_112; held 1_000_000 - 611_112 = 388_888
    stepwise, _ = meter_each_minute(start, 11)
    once, _ = charge(start, 11)
    assert (stepwise.charged, stepwise.reserved) == (once.charged, once.reserved) == (611_112, 388_888)


def test_costs_past_float_precision_still_round_up_exactly():
    # 10**18 micros/h for 1 minute: 10**18 / 60 = 16_666_666_666_666_666.67 -> ...667 (a float gives ...666)
    from governor.core.model import cost_of

    assert cost_of(10**18, 1) == 16_666_666_666_666_667
