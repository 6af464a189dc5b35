"""Gather a Dashboard through the store handed in. No I/O of its own: the store does it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from governor.core.model import CapacityFailure, Period, ProjectPolicy, Usage
from governor.core.policy.limits import PROJECT_NAME
from governor.dashboard.data import (
    CostSeries,
    Dashboard,
    Forecast,
    budget_rows,
    caller_rows,
    cost_series,
    health_of,
    hours_rows,
    month_days,
    period_bounds,
    recent_decisions,
    session_rows,
)
from governor.dashboard.placement import placement_rows

if TYPE_CHECKING:
    from governor.service.ports import AuditPort, CapacityPort, LedgerPort, ProjectsPort, SweepStatePort

    class DashboardStore(ProjectsPort, LedgerPort, CapacityPort, AuditPort, SweepStatePort, Protocol):
        """What the dashboard reads."""


READERS = 8  # store reads in flight at once; each is one small Table query


def _current(store: DashboardStore, project: str, now: datetime) -> dict[Period, Usage]:
    return {period: store.usage(project, period, period.key(now)) for period in Period}


def _caller_spent(store: DashboardStore, project: str, now: datetime) -> dict[Period, dict[str, int]]:
    return {period: store.caller_spent(project, period, period.key(now)) for period in Period}


def _submit_history(pool: ThreadPoolExecutor, store: DashboardStore, project: str, days: Sequence[date]) -> Callable:
    """Start reading spent per past day of the month; returns a function that waits for it."""
    rows = pool.submit(store.usage_history, project, Period.DAY, days[0].isoformat(), days[-1].isoformat())
    return lambda: {date.fromisoformat(u.key): u.spent for u in rows.result()}


def _capacity_failures(store: DashboardStore, now: datetime, scope: str | None) -> list[CapacityFailure]:
    return store.capacity_failures_between(*period_bounds(Period.DAY, now), scope)


def collect(
    store: DashboardStore,
    now: datetime,
    *,
    forecast: Forecast,
    stale_after: timedelta,
    policies: Sequence[ProjectPolicy] | None = None,
    scope: str | None = None,
    caller: str | None = None,
) -> Dashboard:
    """The whole governor (`policies` None: every project) or the given projects, `scope` naming the page.

    `caller`: a key that may act only on the sessions it started sees only those, its own decisions
    and its own spend, as its session list does; budgets, costs and placement stay the project's."""
    listed = list(store.list_projects() if policies is None else policies)
    # A row written by another tool may carry a name the store refuses to read by; list it, chart the rest.
    policies = [p for p in listed if PROJECT_NAME.accepts(p.name)]
    unreadable = tuple(sorted(p.name for p in listed if not PROJECT_NAME.accepts(p.name)))
    days = month_days(now)
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        current = {p.name: pool.submit(_current, store, p.name, now) for p in policies}
        ledgers = {p.name: pool.submit(store.list_entries, p.name, True) for p in policies}
        by_caller = {p.name: pool.submit(_caller_spent, store, p.name, now) for p in policies}
        histories = {p.name: _submit_history(pool, store, p.name, days) for p in policies}
        audit = pool.submit(store.recent_audit, 50, scope) if scope else pool.submit(store.recent_audit, 50)
        last_sweep = pool.submit(store.last_sweep)
        failures = pool.submit(_capacity_failures, store, now, scope)
        usage = {(name, period): u for name, read in current.items() for period, u in read.result().items()}
        entries = {name: read.result() for name, read in ledgers.items()}
        spent = {(name, period): s for name, read in by_caller.items() for period, s in read.result().items()}
        day_totals = {}
        for name, history in histories.items():
            # today's figure is the current day row just read
            day_totals[name] = {day: 0 for day in days} | history() | {days[-1]: usage[(name, Period.DAY)].spent}
    by_currency: dict[str, list[str]] = defaultdict(list)
    for policy in policies:
        by_currency[policy.currency].append(policy.name)
    costs: list[CostSeries] = []
    for currency, group in sorted(by_currency.items()):
        totals = {day: sum(day_totals[name][day] for name in group) for day in days}
        costs.append(cost_series(currency, totals, [e for name in group for e in entries[name]], days))
    names = {p.name for p in policies}
    if caller is not None:
        spent = {period: {c: m for c, m in by.items() if c == caller} for period, by in spent.items()}
    mine = {(e.project, e.session_id) for es in entries.values() for e in es if caller is None or e.caller == caller}
    sessions = session_rows(
        [e for es in entries.values() for e in es], {p.name: p for p in policies}, usage, now, forecast
    )
    return Dashboard(
        scope=scope,
        generated_at=now,
        budgets=tuple(budget_rows(policies, usage, now)),
        costs=tuple(costs),
        sessions=tuple(row for row in sessions if (row.project, row.session_id) in mine),
        decisions=tuple(
            recent_decisions(
                a
                for a in audit.result()
                if (scope is None or a.project in names) and (caller is None or a.caller == caller)
            )
        ),
        health=health_of(last_sweep.result(), now, stale_after),
        unreadable=unreadable,
        hours=tuple(hours_rows(policies, now)),
        callers=tuple(
            caller_rows(policies, {n: [e for e in es if (n, e.session_id) in mine] for n, es in entries.items()}, spent)
        ),
        placement=tuple(placement_rows(policies, entries, failures.result(), now)),
    )
