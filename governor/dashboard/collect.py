"""Gather a Dashboard through the StorePort handed in. No I/O of its own: the store does it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from governor.dashboard.data import (
    CostSeries,
    Dashboard,
    Forecast,
    budget_rows,
    cost_series,
    health_of,
    month_days,
    recent_decisions,
    session_rows,
)
from governor.model import LedgerEntry, Period, ProjectPolicy, Usage
from governor.policy.gate import PROJECT_NAME

if TYPE_CHECKING:
    from governor.service.ports import StorePort

READERS = 4  # projects read at once; each read is a small Table query


@dataclass(frozen=True)
class _ProjectReads:
    policy: ProjectPolicy
    usage: dict[Period, Usage]
    day_totals: dict[date, int]
    entries: list[LedgerEntry]


def _read_project(store: StorePort, policy: ProjectPolicy, days: Sequence[date], now: datetime) -> _ProjectReads:
    usage = {period: store.usage(policy.name, period, period.key(now)) for period in Period}
    today = now.date()
    day_totals = {today: usage[Period.DAY].spent}
    for day in days:
        if day != today:
            day_totals[day] = store.usage(policy.name, Period.DAY, day.isoformat()).spent
    return _ProjectReads(policy, usage, day_totals, store.list_entries(policy.name, include_closed=True))


def collect(
    store: StorePort,
    now: datetime,
    *,
    forecast: Forecast,
    stale_after: timedelta,
    policies: Sequence[ProjectPolicy] | None = None,
    scope: str | None = None,
) -> Dashboard:
    """The whole governor (`policies` None: every project) or the given projects, `scope` naming the page."""
    listed = list(store.list_projects() if policies is None else policies)
    # A row written by another tool may carry a name the store refuses to read by; list it, chart the rest.
    policies = [p for p in listed if PROJECT_NAME.match(p.name)]
    unreadable = tuple(sorted(p.name for p in listed if not PROJECT_NAME.match(p.name)))
    days = month_days(now)
    with ThreadPoolExecutor(max_workers=max(1, min(READERS, len(policies)))) as pool:
        reads = list(pool.map(lambda p: _read_project(store, p, days, now), policies))
    usage = {(r.policy.name, period): u for r in reads for period, u in r.usage.items()}
    by_currency: dict[str, list[_ProjectReads]] = defaultdict(list)
    for r in reads:
        by_currency[r.policy.currency].append(r)
    costs: list[CostSeries] = []
    for currency, group in sorted(by_currency.items()):
        totals = {day: sum(r.day_totals.get(day, 0) for r in group) for day in days}
        costs.append(cost_series(currency, totals, [e for r in group for e in r.entries], days))
    names = {p.name for p in policies}
    audit = store.recent_audit(50, scope) if scope else store.recent_audit(50)
    return Dashboard(
        scope=scope,
        generated_at=now,
        budgets=tuple(budget_rows(policies, usage, now)),
        costs=tuple(costs),
        sessions=tuple(
            session_rows([e for r in reads for e in r.entries], {p.name: p for p in policies}, usage, now, forecast)
        ),
        decisions=tuple(recent_decisions(a for a in audit if scope is None or a.project in names)),
        health=health_of(store.last_sweep(), now, stale_after),
        unreadable=unreadable,
    )
