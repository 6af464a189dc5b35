from datetime import timedelta

from governor.core.model import LedgerState, Period, SessionStatus, Usage, to_micros
from governor.dashboard.forecast import session_from_ledger, sweep_forecast
from tests.unit.dashboard.samples import NOW, entry, policy

FORECAST = sweep_forecast(warn_before=timedelta(minutes=10))


def month(spent: str, budget: str = "100") -> dict:
    return {Period.MONTH: Usage("alpha", Period.MONTH, "2026-11", to_micros(budget), to_micros(spent))}


def test_the_ledger_stands_in_for_arr():
    session = session_from_ledger(entry(charged_minutes=42, lease_minutes=90))
    assert (session.status, session.elapsed, session.max_lease) == (
        SessionStatus.READY,
        timedelta(minutes=42),
        timedelta(minutes=90),
    )
    assert session_from_ledger(entry(state=LedgerState.PENDING)).status is SessionStatus.STARTING


def test_a_busy_session_within_lease_and_budget_is_left():
    busy = entry(charged_minutes=30, lease_minutes=120, last_heartbeat=NOW - timedelta(minutes=1))
    assert FORECAST(busy, policy(), month("10"), NOW, to_micros(3)) == ("leave", "ok")


def test_a_silent_session_past_the_idle_timeout_will_be_stopped():
    silent = entry(charged_minutes=30, last_heartbeat=NOW - timedelta(minutes=20))
    assert FORECAST(silent, policy(), month("10"), NOW, to_micros(3)) == ("stop", "idle")


def test_an_exhausted_budget_stops_and_dry_run_is_shown():
    busy = entry(charged_minutes=30, last_heartbeat=NOW)
    assert FORECAST(busy, policy(), month("100"), NOW, to_micros(3)) == ("stop", "budget-exhausted")
    dry = sweep_forecast(timedelta(minutes=10), dry_run=True)
    assert dry(busy, policy(), month("100"), NOW, to_micros(3)) == ("stop (dry run)", "budget-exhausted")


def test_a_low_lease_of_an_active_session_will_be_extended():
    low = entry(charged_minutes=115, lease_minutes=120, last_heartbeat=NOW - timedelta(minutes=1))
    assert FORECAST(low, policy(), month("10"), NOW, to_micros(3)) == ("extend", "lease-low")


def test_a_pending_admission_is_left_to_confirm():
    pending = entry(state=LedgerState.PENDING, charged_minutes=0)
    assert FORECAST(pending, policy(), month("10"), NOW, 0) == ("leave", "pending")
