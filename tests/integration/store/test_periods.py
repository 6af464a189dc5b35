"""Usage per UTC day and month: new periods start at zero; minutes go to the period of `now`."""

from datetime import UTC, datetime, timedelta

from governor.core.model import MICROS, Period, cost_of
from tests.integration.store.helpers import RATE, admit, entry, policy, reserve


def usage(store, period, at):
    return store.usage("demo", period, period.key(at))


def test_a_session_across_midnight_charges_both_days_and_months(store):
    store.put_project(policy())
    before = datetime(2030, 1, 31, 23, 50, tzinfo=UTC)
    after = datetime(2030, 2, 1, 0, 20, tzinfo=UTC)
    reserve(store, "s1", at=before)
    store.meter("demo", "s1", 10, before)  # 23:40-23:50 ... 10 minutes by midnight
    store.meter("demo", "s1", 40, after)  # 30 more after midnight
    assert usage(store, Period.DAY, before).spent == cost_of(RATE, 10)
    assert usage(store, Period.DAY, after).spent == cost_of(RATE, 40) - cost_of(RATE, 10)
    assert usage(store, Period.MONTH, before).spent == cost_of(RATE, 10)
    assert usage(store, Period.MONTH, after).spent == cost_of(RATE, 40) - cost_of(RATE, 10)
    total = sum(usage(store, p, at).spent for p in (Period.DAY,) for at in (before, after))
    assert total == store.get_entry("demo", "s1").charged


def test_a_new_day_starts_at_zero_but_running_reservations_still_count(store):
    store.put_project(policy(daily_budget=20 * MICROS))
    day1 = datetime(2030, 5, 10, 22, 0, tzinfo=UTC)
    day2 = day1 + timedelta(hours=3)
    reserve(store, "s1", lease_minutes=120, at=day1)  # holds 12.00
    store.meter("demo", "s1", 60, day1)  # spent 6.00 on day 1; 6.00 still held
    fresh = usage(store, Period.DAY, day2)
    assert fresh.spent == 0 and fresh.reserved == 6 * MICROS and fresh.remaining == 14 * MICROS
    seen = []

    def decide(snapshot):
        seen.append(snapshot.usage[Period.DAY])
        return admit(6 * MICROS)(snapshot)

    store.reserve("demo", entry("s2", at=day2), decide, day2)
    assert seen[0].key == "2030-05-11" and seen[0].spent == 0 and seen[0].reserved == 6 * MICROS
    assert usage(store, Period.DAY, day1).reserved == 0  # once day 2 is seen, day 1 holds nothing
    snapshot = store.snapshot(day2)
    assert snapshot.usage[("demo", Period.DAY)].reserved == 12 * MICROS
    assert snapshot.usage[("demo", Period.DAY)].spent == 0
    assert snapshot.usage[("demo", Period.MONTH)].spent == 6 * MICROS


def test_usage_history_reads_a_range_of_periods(store):
    store.put_project(policy())
    days = [datetime(2030, 4, d, 12, tzinfo=UTC) for d in (1, 2, 4)]
    for index, day in enumerate(days):
        reserve(store, f"s{index}", at=day)
        store.meter("demo", f"s{index}", 10 * (index + 1), day)
    history = store.usage_history("demo", Period.DAY, "2030-04-02", "2030-04-05")
    assert [(u.key, u.spent, u.reserved) for u in history] == [
        ("2030-04-02", cost_of(RATE, 20), 0),
        ("2030-04-04", cost_of(RATE, 30), 0),
    ]
    assert history[0].budget == 100 * MICROS
    months = store.usage_history("demo", Period.MONTH, "2030-01", "2030-12")
    assert [(u.key, u.spent) for u in months] == [("2030-04", cost_of(RATE, 60))]
