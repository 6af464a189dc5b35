"""The "next likely decision" of a session: the sweep's own decision table applied to what the
ledger knows. The page never calls ARR, so ARR's elapsed time is the one last metered (idleness
too is measured against it when the heartbeat recorded ARR's elapsed) and the lease the one the
ledger granted; the sweep decides on ARR's live figures and may differ."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from governor.core.model import LedgerEntry, LedgerState, Period, ProjectPolicy, Session, SessionStatus, Usage
from governor.core.policy.sweep import SweepOptions, decide
from governor.dashboard.data import Forecast


def session_from_ledger(entry: LedgerEntry) -> Session:
    return Session(
        id=entry.session_id,
        account=entry.account,
        status=SessionStatus.READY if entry.state is LedgerState.ACTIVE else SessionStatus.STARTING,
        size=entry.size,
        elapsed=timedelta(minutes=entry.charged_minutes),
        max_lease=entry.lease,
    )


def sweep_forecast(warn_before: timedelta, dry_run: bool = False) -> Forecast:
    options = SweepOptions(warn_before=warn_before, dry_run=dry_run)

    def forecast(
        entry: LedgerEntry, policy: ProjectPolicy, usage: Mapping[Period, Usage], now: datetime, burn_rate: int
    ) -> tuple[str, str]:
        if entry.state is LedgerState.PENDING:  # the page cannot see whether ARR lists it yet
            return "leave", "pending"
        decision = decide(session_from_ledger(entry), entry, policy, usage, now, options, burn_rate)
        reason = decision.reason
        if decision.warning and decision.warning != reason:
            reason = f"{reason}; {decision.warning}"
        action = decision.action.value + (" (dry run)" if decision.dry_run and decision.acts else "")
        return action, reason

    return forecast
