"""Domain values for dashboard tests (plain dataclasses, no storage)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from governor.core.model import (
    AuditRecord,
    LedgerEntry,
    LedgerState,
    Period,
    ProjectPolicy,
    Usage,
    VmSize,
    to_micros,
)
from governor.dashboard.data import Dashboard, Health, budget_rows, cost_series, month_days, session_rows

NOW = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)  # exactly half of November gone
WEBHOOK = "https://hooks.example/services/T0/hook-secret-123?code=xyz"  # a policy value the page must never show


def policy(name: str = "alpha", monthly: str | None = "100", daily: str | None = None, **kw) -> ProjectPolicy:
    return ProjectPolicy(
        name=name,
        monthly_budget=to_micros(monthly) if monthly is not None else None,
        daily_budget=to_micros(daily) if daily is not None else None,
        allowed_sizes=frozenset(VmSize),
        rates={VmSize.STANDARD: to_micros("3"), VmSize.PREMIUM: to_micros("12")},
        **kw,
    )


def usage(project: str, period: Period, spent: str, reserved: str = "0", at: datetime = NOW, saved: str = "0") -> Usage:
    return Usage(project, period, period.key(at), None, to_micros(spent), to_micros(reserved), to_micros(saved))


def entry(
    project: str = "alpha",
    session_id: str = "s-1",
    size: VmSize = VmSize.STANDARD,
    state: LedgerState = LedgerState.ACTIVE,
    requested_at: datetime = NOW - timedelta(hours=1),
    lease_minutes: int = 120,
    charged_minutes: int = 60,
    rate: str = "3",
    last_heartbeat: datetime | None = None,
) -> LedgerEntry:
    return LedgerEntry(
        project=project,
        session_id=session_id,
        account="default",
        size=size,
        state=state,
        requested_at=requested_at,
        lease=timedelta(minutes=lease_minutes),
        rate=to_micros(rate),
        charged_minutes=charged_minutes,
        charged=to_micros(rate) * charged_minutes // 60,
        last_heartbeat=last_heartbeat,
    )


def always_leave(entry, policy, usage, now, burn_rate):
    return "leave", "within-lease"


def sample_dashboard(project_name: str = "alpha", scope: str | None = None) -> Dashboard:
    policies = [policy(project_name, daily="10", webhook_url=WEBHOOK), policy("beta", monthly="50")]
    use = {
        (project_name, Period.MONTH): usage(project_name, Period.MONTH, "40", "6"),
        (project_name, Period.DAY): usage(project_name, Period.DAY, "3", "6"),
        ("beta", Period.MONTH): usage("beta", Period.MONTH, "30", saved="7.5"),
    }
    entries = [
        entry(project_name, "s-1", last_heartbeat=NOW - timedelta(minutes=3)),
        entry("beta", "s-2", VmSize.PREMIUM, requested_at=datetime(2026, 11, 3, 10, tzinfo=UTC), rate="12"),
    ]
    days = month_days(NOW)
    totals = {d: 0 for d in days} | {date(2026, 11, 3): to_micros("12"), date(2026, 11, 15): to_micros("3")}
    return Dashboard(
        scope=scope,
        generated_at=NOW,
        budgets=tuple(budget_rows(policies, use, NOW)),
        costs=(cost_series("USD", totals, entries, days),),
        sessions=tuple(session_rows(entries, {p.name: p for p in policies}, use, NOW, always_leave)),
        decisions=(
            AuditRecord(NOW - timedelta(minutes=1), "sweep", project_name, "s-1", "extend", "heartbeat-recent"),
            AuditRecord(NOW - timedelta(minutes=9), "gate", "beta", "s-2", "admit", "within-budget", dry_run=True),
        ),
        health=Health(NOW - timedelta(minutes=1), timedelta(minutes=1), 0, False, (("sessions", "2"),)),
    )
