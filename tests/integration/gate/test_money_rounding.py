"""Through the gate, at a rate that is not a multiple of 60 micros an hour: every figure the caller
reads and every figure stored is rounded up to a whole micro, pinned as hand-computed literals.

Rate 1_000_001 micros an hour; costs of m minutes are 1_000_001 * m / 60, rounded up:
  30 min: 500_000.5  -> 500_001     35 min: 583_333.92 -> 583_334
  37 min: 616_667.28 -> 616_668     60 min: 1_000_001 (no remainder)
"""

from governor.core.model import MICROS, Period, VmSize, utcnow

RATE = 1_000_001


def project(gate, name: str, daily_budget: int) -> str:
    return gate.project(name, rates={VmSize.STANDARD: RATE}, daily_budget=daily_budget, monthly_budget=200 * MICROS)


def usage(gate, name: str, period: Period):
    return gate.store.usage(name, period, period.key(utcnow()))


def test_reservation_extension_and_settlement_are_rounded_up(gate):
    key = project(gate, "alpha", daily_budget=100 * MICROS)
    created = gate.create("alpha", key, {"size": "Standard", "maxLeaseTime": 35})
    assert created.status == 202, created.body
    sid = created.body["sessionId"]
    assert created.body["reservedCost"] == "0.583334"
    assert created.body["remainingBudget"] == "99.416666"  # 100_000_000 - 583_334
    gate.settle()
    assert usage(gate, "alpha", Period.DAY).reserved == 583_334

    gate.emulator.advance(5 + 30 * 60)  # Ready after 5 s, then 30 minutes
    assert gate.get("alpha", key, sid).body["costSoFar"] == "0.500001"

    extended = gate.extend("alpha", key, sid)  # elapsed 30 + step 30
    assert extended.status == 200, extended.body
    assert extended.body["leaseMinutes"] == 60
    assert extended.body["extraCost"] == "0.416667"  # 1_000_001 - 583_334
    assert usage(gate, "alpha", Period.DAY).reserved == 1_000_001  # 583_334 + 416_667

    gate.emulator.advance(7 * 60)
    stopped = gate.stop("alpha", key, sid)
    assert stopped.status == 200, stopped.body
    assert stopped.body["costSoFar"] == "0.616668"  # 37 minutes
    day, month = usage(gate, "alpha", Period.DAY), usage(gate, "alpha", Period.MONTH)
    assert (day.spent, day.reserved, month.spent) == (616_668, 0, 616_668)
    assert gate.store.get_entry("alpha", sid).charged == 616_668
    periods = {p["period"]: p for p in gate.usage("alpha", key).body["periods"]}
    assert (periods["day"]["spent"], periods["day"]["reserved"]) == ("0.616668", "0.000000")
    assert periods["month"]["remaining"] == "199.383332"  # 200_000_000 - 616_668


def test_a_budget_one_micro_below_the_rounded_up_reservation_refuses(gate):
    short = project(gate, "short", daily_budget=583_333)
    refused = gate.create("short", short, {"size": "Standard", "maxLeaseTime": 35})
    assert (refused.status, refused.reason) == (402, "budget-exhausted")
    assert refused.body["remainingBudget"] == "0.583333"
    assert gate.open_sessions_in_arr() == []

    exact = project(gate, "exact", daily_budget=583_334)
    admitted = gate.create("exact", exact, {"size": "Standard", "maxLeaseTime": 35})
    assert admitted.status == 202, admitted.body
    assert (admitted.body["reservedCost"], admitted.body["remainingBudget"]) == ("0.583334", "0.000000")
