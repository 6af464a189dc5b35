"""Chart data: pure functions of policies, usage rows, ledger entries, audit records and the sweep report.

Money stays int micros. Every total shown equals the usage rows it came from; where the store
has no finer grain (usage rows are per project and period, not per VM size), the split is an
attribution whose parts still add up exactly to the stored total.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from governor.core.model import AuditRecord, LedgerEntry, LedgerState, Period, ProjectPolicy, SweepHealth, Usage
from governor.core.policy import schedule as hours
from governor.dashboard.placement import PlacementRow

UNATTRIBUTED = "Unattributed"
UNNAMED = "(unnamed)"
MAX_DECISIONS = 50

# (entry, policy, current usage per period, now, project burn rate in micros per hour) -> (action, reason);
# see governor.dashboard.forecast
Forecast = Callable[[LedgerEntry, ProjectPolicy, Mapping[Period, Usage], datetime, int], tuple[str, str]]


def _micros_of(span: timedelta) -> int:
    return span // timedelta(microseconds=1)


def period_bounds(period: Period, now: datetime) -> tuple[datetime, datetime]:
    """The UTC start (inclusive) and end (exclusive) of the period containing `now`."""
    now = now.astimezone(UTC)
    if period is Period.DAY:
        start = datetime(now.year, now.month, now.day, tzinfo=UTC)
        return start, start + timedelta(days=1)
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def project_to_end(spent: int, start: datetime, end: datetime, now: datetime) -> int:
    """`spent` plus the period's average burn rate so far, carried on to the period's end."""
    elapsed = _micros_of(min(max(now, start), end) - start)
    if spent <= 0 or elapsed <= 0:
        return max(spent, 0)
    remaining = _micros_of(end - min(max(now, start), end))
    return spent + -(-spent * remaining // elapsed)


@dataclass(frozen=True)
class BudgetRow:
    project: str
    currency: str
    period: Period
    key: str
    budget: int | None
    spent: int
    reserved: int
    projected: int
    saved: int = 0  # what the governor's stops and refused extensions avoided in the period

    @property
    def used(self) -> int:
        return self.spent + self.reserved

    @property
    def over_budget(self) -> bool:
        return self.budget is not None and self.projected > self.budget


def budget_rows(
    policies: Iterable[ProjectPolicy], usage: Mapping[tuple[str, Period], Usage], now: datetime
) -> list[BudgetRow]:
    """One row per project for the month, plus one for the day where a daily budget is set."""
    rows = []
    for policy in sorted(policies, key=lambda p: p.name):
        for period, budget in ((Period.MONTH, policy.monthly_budget), (Period.DAY, policy.daily_budget)):
            if period is Period.DAY and budget is None:
                continue
            current = usage.get((policy.name, period))
            spent = current.spent if current else 0
            start, end = period_bounds(period, now)
            rows.append(
                BudgetRow(
                    project=policy.name,
                    currency=policy.currency,
                    period=period,
                    key=period.key(now),
                    budget=budget,
                    spent=spent,
                    reserved=current.reserved if current else 0,
                    projected=project_to_end(spent, start, end, now),
                    saved=current.saved if current else 0,
                )
            )
    return rows


def month_days(now: datetime) -> list[date]:
    """The days of the current month up to and including today."""
    start, _ = period_bounds(Period.MONTH, now)
    return [start.date() + timedelta(days=n) for n in range(now.astimezone(UTC).day)]


def split_exactly(total: int, weights: Mapping[str, int]) -> dict[str, int]:
    """Split `total` in proportion to `weights` (largest remainder), so the parts sum to `total`."""
    positive = {k: w for k, w in weights.items() if w > 0}
    if total == 0:
        return dict.fromkeys(weights, 0)
    if not positive:
        return {**dict.fromkeys(weights, 0), UNATTRIBUTED: total}
    weight_sum = sum(positive.values())
    parts = {k: total * w // weight_sum for k, w in positive.items()}
    by_remainder = sorted(positive, key=lambda k: (-(total * positive[k] % weight_sum), k))
    for key in by_remainder[: total - sum(parts.values())]:
        parts[key] += 1
    return {k: parts.get(k, 0) for k in weights}


def size_weights_by_day(entries: Iterable[LedgerEntry], days: Sequence[date]) -> dict[date, dict[str, int]]:
    """Rate x minutes of each VM size falling on each day, with a session's billed minutes
    placed from its request time onward (the ledger keeps no finer timeline)."""
    weights: dict[date, dict[str, int]] = {day: {} for day in days}
    for entry in entries:
        if entry.charged_minutes <= 0:
            continue
        begin = entry.requested_at.astimezone(UTC)
        finish = begin + timedelta(minutes=entry.charged_minutes)
        for day in days:
            day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            overlap = min(finish, day_start + timedelta(days=1)) - max(begin, day_start)
            if overlap > timedelta(0):
                size = entry.size.value
                seconds = int(overlap.total_seconds())
                weights[day][size] = weights[day].get(size, 0) + max(entry.rate, 1) * seconds
    return weights


@dataclass(frozen=True)
class DayCost:
    day: date
    by_size: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_size.values())


@dataclass(frozen=True)
class CostSeries:
    """Cost per day over the month, stacked by VM size, for the projects sharing one currency."""

    currency: str
    sizes: tuple[str, ...]
    days: tuple[DayCost, ...]

    @property
    def total(self) -> int:
        return sum(day.total for day in self.days)

    def size_total(self, size: str) -> int:
        return sum(day.by_size.get(size, 0) for day in self.days)


def cost_series(
    currency: str, day_totals: Mapping[date, int], entries: Iterable[LedgerEntry], days: Sequence[date]
) -> CostSeries:
    weights = size_weights_by_day(entries, days)
    split = {day: split_exactly(day_totals.get(day, 0), weights[day]) for day in days}
    present = {size for parts in split.values() for size, amount in parts.items() if amount}
    known = [s for s in ("Standard", "Premium") if s in present]
    sizes = tuple(known + sorted(present - set(known) - {UNATTRIBUTED}) + sorted(present & {UNATTRIBUTED}))
    return CostSeries(
        currency=currency,
        sizes=sizes,
        days=tuple(DayCost(day, {size: split[day].get(size, 0) for size in sizes}) for day in days),
    )


@dataclass(frozen=True)
class SessionRow:
    project: str
    session_id: str
    size: str
    state: str
    lease: timedelta
    elapsed: timedelta  # ARR's elapsed time as of the last metering
    charged: int
    last_heartbeat: datetime | None
    next_action: str
    next_reason: str

    @property
    def remaining(self) -> timedelta:
        return max(self.lease - self.elapsed, timedelta(0))


def session_rows(
    entries: Iterable[LedgerEntry],
    policies: Mapping[str, ProjectPolicy],
    usage: Mapping[tuple[str, Period], Usage],
    now: datetime,
    forecast: Forecast,
) -> list[SessionRow]:
    """Open (pending or active) sessions, soonest lease end first."""
    entries = list(entries)
    burn: dict[str, int] = {}
    for entry in entries:
        if entry.state is LedgerState.ACTIVE:
            burn[entry.project] = burn.get(entry.project, 0) + entry.rate
    rows = []
    for entry in entries:
        if entry.state is LedgerState.CLOSED:
            continue
        policy = policies.get(entry.project)
        if policy is None:
            action, reason = "report", "unknown-project"
        else:
            current = {period: u for (name, period), u in usage.items() if name == entry.project}
            action, reason = forecast(entry, policy, current, now, burn.get(entry.project, 0))
        rows.append(
            SessionRow(
                project=entry.project,
                session_id=entry.session_id,
                size=entry.size.value,
                state=entry.state.value,
                lease=entry.lease,
                elapsed=timedelta(minutes=entry.charged_minutes),
                charged=entry.charged,
                last_heartbeat=entry.last_heartbeat,
                next_action=action,
                next_reason=reason,
            )
        )
    return sorted(rows, key=lambda r: (r.remaining, r.project, r.session_id))


def recent_decisions(records: Iterable[AuditRecord], limit: int = MAX_DECISIONS) -> list[AuditRecord]:
    return sorted(records, key=lambda r: r.at, reverse=True)[:limit]


@dataclass(frozen=True)
class Health:
    last_sweep_at: datetime | None
    age: timedelta | None
    errors: int | None
    stale: bool
    facts: tuple[tuple[str, str], ...]


def _fact(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def health_of(row: Mapping | None, now: datetime, stale_after: timedelta) -> Health:
    """The sweep's health row as figures: when it last finished, how long ago, how many errors."""
    last = SweepHealth.from_row(row)
    if last is None:
        return Health(None, None, None, True, ())
    age = now - last.finished_at
    facts = tuple((k, _fact(v)) for k, v in sorted(last.to_row().items()) if isinstance(v, str | int | bool))
    return Health(last.finished_at, age, len(last.errors), age > stale_after, facts)


@dataclass(frozen=True)
class HoursRow:
    """A project's working hours now: open or closed, and the next change (UTC and the project's zone)."""

    project: str
    time_zone: str
    open: bool
    closing: str
    next_change: datetime | None
    next_change_local: str | None


def hours_rows(policies: Iterable[ProjectPolicy], now: datetime) -> list[HoursRow]:
    rows = []
    for policy in sorted(policies, key=lambda p: p.name):
        if policy.schedule is None:
            continue
        state = hours.opening(policy.schedule, now)
        change = state.closes_at if state.open else state.opens_at
        rows.append(
            HoursRow(
                project=policy.name,
                time_zone=policy.schedule.time_zone,
                open=state.open,
                closing=policy.schedule.closing.value,
                next_change=change,
                next_change_local=hours.local_text(policy.schedule, change),
            )
        )
    return rows


@dataclass(frozen=True)
class CallerRow:
    """Money and sessions of one caller (key name or principal) in its project's current periods."""

    project: str
    currency: str
    caller: str
    open_sessions: int
    reserved: int
    day_spent: int
    month_spent: int


def caller_rows(
    policies: Iterable[ProjectPolicy],
    entries: Mapping[str, Sequence[LedgerEntry]],
    spent: Mapping[tuple[str, Period], Mapping[str, int]],
) -> list[CallerRow]:
    """Per project, every caller that holds an open session or spent money this month (unnamed ones
    as "(unnamed)": sessions from before named keys)."""
    rows = []
    for policy in sorted(policies, key=lambda p: p.name):
        open_entries = [e for e in entries.get(policy.name, ()) if e.state is not LedgerState.CLOSED]
        day, month = spent.get((policy.name, Period.DAY), {}), spent.get((policy.name, Period.MONTH), {})
        names = {e.caller or UNNAMED for e in open_entries} | set(day) | set(month)
        for name in sorted(names):
            mine = [e for e in open_entries if (e.caller or UNNAMED) == name]
            rows.append(
                CallerRow(
                    project=policy.name,
                    currency=policy.currency,
                    caller=name,
                    open_sessions=len(mine),
                    reserved=sum(e.reserved for e in mine),
                    day_spent=day.get(name, 0),
                    month_spent=month.get(name, 0),
                )
            )
    return rows


@dataclass(frozen=True)
class Dashboard:
    scope: str | None  # the project, or None for the whole governor
    generated_at: datetime
    budgets: tuple[BudgetRow, ...]
    costs: tuple[CostSeries, ...]
    sessions: tuple[SessionRow, ...]
    decisions: tuple[AuditRecord, ...]
    health: Health
    unreadable: tuple[str, ...] = ()  # project rows whose names the governor refuses; not charted
    hours: tuple[HoursRow, ...] = ()
    callers: tuple[CallerRow, ...] = ()
    placement: tuple[PlacementRow, ...] = ()  # governor.dashboard.placement
