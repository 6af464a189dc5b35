from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governor.core.model import AuditRecord, LedgerState, Period, SweepHealth, VmSize, to_micros
from governor.dashboard.data import (
    UNATTRIBUTED,
    budget_rows,
    cost_series,
    health_of,
    month_days,
    period_bounds,
    project_to_end,
    recent_decisions,
    session_rows,
    size_weights_by_day,
    split_exactly,
)
from tests.unit.dashboard.samples import NOW, always_leave, entry, policy, usage


def test_period_bounds_of_month_day_and_december():
    assert period_bounds(Period.MONTH, NOW) == (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    dec = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    assert period_bounds(Period.MONTH, dec) == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert period_bounds(Period.DAY, dec) == (datetime(2026, 12, 31, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def test_projection_carries_the_average_burn_rate_to_the_period_end():
    start, end = period_bounds(Period.MONTH, NOW)
    assert project_to_end(to_micros(40), start, end, NOW) == to_micros(80)  # half the month gone
    quarter = start + (end - start) / 4
    assert project_to_end(to_micros(10), start, end, quarter) == to_micros(40)
    assert project_to_end(to_micros(10), start, end, end) == to_micros(10)


def test_projection_rounds_up_and_handles_nothing_spent_or_no_time_elapsed():
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 1, 0, 0, 3, tzinfo=UTC)
    assert project_to_end(1, start, end, start + timedelta(seconds=2)) == 2  # 1 + ceil(0.5)
    assert project_to_end(0, start, end, start + timedelta(seconds=1)) == 0
    assert project_to_end(5, start, end, start) == 5


def test_budget_rows_month_always_day_only_with_a_daily_budget():
    policies = [policy("beta", monthly=None), policy("alpha", monthly="100", daily="10")]
    use = {
        ("alpha", Period.MONTH): usage("alpha", Period.MONTH, "40", "6"),
        ("alpha", Period.DAY): usage("alpha", Period.DAY, "3", "6"),
    }
    rows = budget_rows(policies, use, NOW)
    assert [(r.project, r.period) for r in rows] == [
        ("alpha", Period.MONTH),
        ("alpha", Period.DAY),
        ("beta", Period.MONTH),
    ]
    month = rows[0]
    assert (month.budget, month.spent, month.reserved, month.used) == (
        to_micros(100),
        to_micros(40),
        to_micros(6),
        to_micros(46),
    )
    assert month.key == "2026-11" and month.projected == to_micros(80) and not month.over_budget
    assert rows[1].key == "2026-11-16"
    beta = rows[2]
    assert (beta.budget, beta.spent, beta.projected, beta.over_budget) == (None, 0, 0, False)


def test_over_budget_when_the_projection_passes_the_budget():
    rows = budget_rows(
        [policy("alpha", monthly="79")], {("alpha", Period.MONTH): usage("alpha", Period.MONTH, "40")}, NOW
    )
    assert rows[0].over_budget


def test_month_days_run_from_the_first_to_today():
    days = month_days(NOW)
    assert days[0] == date(2026, 11, 1) and days[-1] == date(2026, 11, 16) and len(days) == 16


def test_split_exactly_is_proportional_and_adds_up():
    assert split_exactly(100, {"Standard": 1, "Premium": 3}) == {"Standard": 25, "Premium": 75}
    # equal remainders: the spare micro goes to the first name, so the split is deterministic
    assert split_exactly(10, {"Standard": 1, "Premium": 1, "X": 1}) == {"Standard": 3, "Premium": 4, "X": 3}
    assert split_exactly(0, {"Standard": 5}) == {"Standard": 0}
    assert split_exactly(7, {}) == {UNATTRIBUTED: 7}
    assert split_exactly(7, {"Standard": 0}) == {"Standard": 0, UNATTRIBUTED: 7}


@given(
    st.integers(min_value=0, max_value=10**15),
    st.dictionaries(st.sampled_from(["Standard", "Premium", "Other"]), st.integers(0, 10**9), min_size=1),
)
def test_split_exactly_never_loses_or_invents_a_micro(total, weights):
    parts = split_exactly(total, weights)
    assert sum(parts.values()) == total
    weight_sum = sum(w for w in weights.values() if w > 0)
    for key, weight in weights.items():
        if weight_sum:
            assert abs(parts[key] - total * weight / weight_sum) <= 1


def test_size_weights_follow_a_session_across_midnight():
    start = datetime(2026, 11, 2, 23, 0, tzinfo=UTC)
    days = [date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)]
    e = entry(requested_at=start, charged_minutes=120, size=VmSize.PREMIUM, rate="12")
    weights = size_weights_by_day([e], days)
    assert weights[date(2026, 11, 2)]["Premium"] == weights[date(2026, 11, 3)]["Premium"] > 0
    assert weights[date(2026, 11, 4)] == {}


def test_cost_series_totals_equal_the_usage_rows_and_stack_by_size():
    days = [date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)]
    entries = [
        entry(session_id="a", requested_at=datetime(2026, 11, 2, 10, tzinfo=UTC), charged_minutes=60, rate="3"),
        entry(
            session_id="b",
            size=VmSize.PREMIUM,
            requested_at=datetime(2026, 11, 2, 12, tzinfo=UTC),
            charged_minutes=60,
            rate="12",
        ),
    ]
    totals = {days[0]: to_micros(15), days[2]: to_micros(4)}
    series = cost_series("USD", totals, entries, days)
    assert series.sizes == ("Standard", "Premium", UNATTRIBUTED)
    assert [d.total for d in series.days] == [to_micros(15), 0, to_micros(4)]
    assert series.days[0].by_size == {"Standard": to_micros(3), "Premium": to_micros(12), UNATTRIBUTED: 0}
    assert series.days[2].by_size[UNATTRIBUTED] == to_micros(4)  # usage the ledger cannot place
    assert series.total == to_micros(19) and series.size_total("Premium") == to_micros(12)


def test_cost_series_of_an_empty_month_has_no_sizes():
    series = cost_series("EUR", {}, [], month_days(NOW))
    assert series.sizes == () and series.total == 0 and len(series.days) == 16


def test_session_rows_list_open_sessions_soonest_end_first_with_their_forecast():
    seen = []

    def forecast(e, p, use, now, burn_rate):
        seen.append((e.session_id, p.name, sorted(use), now, burn_rate))
        return ("warn", f"lease-ends-{e.session_id}")

    entries = [
        entry(session_id="long", lease_minutes=240, charged_minutes=30),
        entry(session_id="short", lease_minutes=60, charged_minutes=50),
        entry(session_id="done", state=LedgerState.CLOSED),
        entry(project="ghost", session_id="orphan"),
    ]
    use = {
        ("alpha", Period.MONTH): usage("alpha", Period.MONTH, "1"),
        ("beta", Period.MONTH): usage("beta", Period.MONTH, "2"),
    }
    rows = session_rows(entries, {"alpha": policy("alpha")}, use, NOW, forecast)
    assert [r.session_id for r in rows] == ["short", "orphan", "long"]
    assert rows[0].remaining == timedelta(minutes=10) and rows[2].remaining == timedelta(minutes=210)
    assert (rows[0].next_action, rows[0].next_reason) == ("warn", "lease-ends-short")
    assert (rows[1].next_action, rows[1].next_reason) == ("report", "unknown-project")
    # only the project's own usage; burn rate = the rates of its two active sessions (3 USD/h each)
    assert ("short", "alpha", [Period.MONTH], NOW, 2 * to_micros(3)) in seen


def test_remaining_lease_never_negative():
    rows = session_rows([entry(lease_minutes=10, charged_minutes=30)], {"alpha": policy()}, {}, NOW, always_leave)
    assert rows[0].remaining == timedelta(0)


def test_recent_decisions_newest_first_and_at_most_fifty():
    records = [AuditRecord(NOW - timedelta(minutes=n), "sweep", "alpha", f"s{n}", "leave", "ok") for n in range(60)]
    shown = recent_decisions(reversed(records))
    assert len(shown) == 50 and shown[0].session_id == "s0" and shown[-1].session_id == "s49"


def _row(finished: datetime, **fields) -> dict:
    return SweepHealth(finished - timedelta(seconds=5), finished, "ok", **fields).to_row()


@pytest.mark.parametrize(
    ("report", "age", "errors", "stale"),
    [
        (None, None, None, True),
        (_row(NOW - timedelta(minutes=2), errors=("a", "b")), timedelta(minutes=2), 2, False),
        (_row(NOW - timedelta(minutes=10), failed=3, errors=("x",)), timedelta(minutes=10), 1, True),
        ({**_row(NOW), "finishedAt": "2026-11-15T23:59:00"}, timedelta(minutes=1), 0, False),
        ({**_row(NOW), "finishedAt": "not a time"}, None, None, True),
        ({"finished_at": "2026-11-15T23:59:00Z", "errors": 2}, None, None, True),  # not the declared shape
    ],
)
def test_health_from_the_sweep_row(report, age, errors, stale):
    health = health_of(report, NOW, stale_after=timedelta(minutes=3))
    assert (health.age, health.errors, health.stale) == (age, errors, stale)


def test_health_facts_keep_scalars_only():
    row = _row(NOW - timedelta(minutes=1), counts={"stop": 1}, metered=4, owner="host:1:ab", dry_run=True)
    health = health_of(row, NOW, timedelta(1))
    facts = dict(health.facts)
    assert facts["metered"] == "4" and facts["owner"] == "host:1:ab" and facts["dryRun"] == "yes"
    assert facts["finishedAt"] == (NOW - timedelta(minutes=1)).isoformat()
    assert "counts" not in facts and "errors" not in facts and "phasesMs" not in facts
