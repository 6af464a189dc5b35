"""A project's usage: its budget periods, its sessions counted, where they were placed and, by key,
what each caller spent."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from governor.core.model import LedgerEntry, LedgerState, Period
from governor.core.policy.callers import PRINCIPAL_PREFIX
from governor.service.gate.base import Caller, Gate
from governor.service.gate.views import budget_view, callers_view, placement_usage_view, usage_view


def project_usage(
    gate: Gate, project: str, caller: Caller, day: str | None = None, month: str | None = None, by: str | None = None
) -> dict:
    policy = gate.authorize(project, caller)
    now = gate.clock()
    keys = {Period.DAY: day or Period.DAY.key(now), Period.MONTH: month or Period.MONTH.key(now)}
    usage = {period: gate.store.usage(project, period, key) for period, key in keys.items()}
    entries = gate.store.list_entries(project, include_closed=True)
    entries += _history(gate, project, entries, {keys[Period.MONTH], keys[Period.DAY][:7]})
    in_period = [e for e in entries if Period.DAY.key(e.requested_at) == keys[Period.DAY]]
    in_month = [e for e in entries if Period.MONTH.key(e.requested_at) == keys[Period.MONTH]]
    view = {
        "project": project,
        "currency": policy.currency,
        "periods": [usage_view(u) for u in usage.values()],
        "sessions": {
            "open": sum(e.state is not LedgerState.CLOSED for e in entries),
            "day": len(in_period),
            "month": len(in_month),
        },
        **budget_view(policy, usage),
    }
    day_start = datetime.fromisoformat(keys[Period.DAY]).replace(tzinfo=UTC)
    day_end = day_start + timedelta(days=1) if day_start.date() < date.max else datetime.max.replace(tzinfo=UTC)
    failures = gate.store.capacity_failures_between(day_start, day_end, project)
    view["placement"] = placement_usage_view(keys[Period.DAY], in_period, failures)
    if by == "key":
        spent = {period: gate.store.caller_spent(project, period, key) for period, key in keys.items()}
        limits = {k.name: k.limits for k in gate.store.list_keys(project)}
        limits |= {PRINCIPAL_PREFIX + p: lim for p, lim in policy.principal_limits.items()}
        view["callers"] = callers_view(entries, spent, limits)
    return view


def _history(gate: Gate, project: str, entries: list[LedgerEntry], months: set[str]) -> list[LedgerEntry]:
    """Entries retention moved to history in those months; a row caught mid-move (in both
    tables) counts once."""
    seen = {e.session_id for e in entries}
    moved: list[LedgerEntry] = []
    for month in sorted(months):
        moved += [e for e in gate.store.history_entries(project, month) if e.session_id not in seen]
    return moved
