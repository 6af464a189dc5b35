"""The extension rules, one place for the gate and the sweep: what budget pays for a longer lease,
and which refused extensions save one step.

Pure: callers pass the ledger entry, the usage, the caller's limits and figures, and `now`.
The gate grants what the budget can pay for (`decide_extension`, part of a step allowed, as a
client asked for it); the sweep extends by a whole step or not at all (`step_shortfall`,
`reserve_step`). A refusal for any of the governor's limits saves one step (`refused_step_saving`).
After a failed lease update, the gate gives the money back only when ARR did nothing (`failed_update`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from governor.core.errors import Refusal, Unavailable
from governor.core.model import (
    CallerFigures,
    CallerLimits,
    LedgerEntry,
    Period,
    ProjectPolicy,
    Usage,
    ceil_minutes,
    cost_of,
    extension_saving,
    format_money,
    money_text,
    whole_minutes,
)
from governor.core.policy.callers import caller_remaining
from governor.core.policy.closing import until_closing
from governor.core.policy.limits import ARR_MAX_UPDATE_LEASE


# ---------------------------------------------------------------- whose money
def tightest_remaining(usage: Mapping[Period, Usage]) -> int | None:
    """The smallest remaining budget over the periods that have one (None: unlimited)."""
    remaining = [u.remaining for u in usage.values() if u.remaining is not None]
    return min(remaining) if remaining else None


def budget_left(
    usage: Mapping[Period, Usage], caller_limits: CallerLimits | None, caller: CallerFigures | None
) -> tuple[int | None, str]:
    """What may still be spent and whose limit it is: the project's tightest budget ("budget"), or
    the caller's own when tighter ("caller"); None: unlimited."""
    remaining, limit = tightest_remaining(usage), "budget"
    caller_left = caller_remaining(caller_limits, caller)
    if caller_left is not None and (remaining is None or caller_left < remaining):
        remaining, limit = caller_left, "caller"
    return remaining, limit


def budget_covers(usage: Mapping[Period, Usage], extra: int) -> Period | None:
    """The first budgeted period whose remaining money does not cover `extra`, or None."""
    for period, item in sorted(usage.items()):
        if item.remaining is not None and item.remaining < extra:
            return period
    return None


def caller_covers(limits: CallerLimits, figures: CallerFigures, extra: int) -> bool:
    """Does the caller's own budget (spent and reserved counted) leave `extra`?"""
    left = caller_remaining(limits, figures)
    return left is None or left >= extra


def extension_cost(rate: int, current: timedelta, new: timedelta) -> int:
    return max(cost_of(rate, ceil_minutes(new)) - cost_of(rate, ceil_minutes(current)), 0)


@dataclass(frozen=True)
class Shortfall:
    limit: str  # "budget" or "caller"
    period: Period | None = None  # the project's period that falls short


def step_shortfall(
    usage: Mapping[Period, Usage], extra: int, caller_limits: CallerLimits | None, caller: CallerFigures | None
) -> Shortfall | None:
    """Whose budget cannot pay a whole step's `extra` (the project's first), or None."""
    short = budget_covers(usage, extra)
    if short is not None:
        return Shortfall("budget", short)
    if caller_limits is not None and caller is not None and not caller_covers(caller_limits, caller, extra):
        return Shortfall("caller")
    return None


# ---------------------------------------------------------------- the gate: what the budget can pay for
@dataclass(frozen=True)
class Extension:
    lease: timedelta  # the new total lease since start
    extra_cost: int
    partial: bool  # budget granted less than asked


def extension_target(
    policy: ProjectPolicy, entry: LedgerEntry, elapsed: timedelta, requested: timedelta | None
) -> timedelta:
    if requested is not None:
        return requested
    return elapsed + policy.extension_step


def decide_extension(
    policy: ProjectPolicy,
    entry: LedgerEntry,
    elapsed: timedelta,
    usage: Mapping[Period, Usage],
    requested: timedelta | None = None,
    now: datetime | None = None,
    caller_limits: CallerLimits | None = None,
    caller: CallerFigures | None = None,
) -> Extension:
    """The new total lease: the target (elapsed + step, or the requested total), within the hard
    cap, closing time (working hours, given `now`) and what the budget (the project's and, given
    them, the caller's own) can pay for. Never shorter than the current lease."""
    cap = min(policy.hard_max_duration, ARR_MAX_UPDATE_LEASE)
    target = extension_target(policy, entry, elapsed, requested)
    figures: dict[str, object] = {
        "leaseMinutes": whole_minutes(entry.lease),
        "elapsedMinutes": whole_minutes(elapsed),
        "capMinutes": whole_minutes(cap),
    }
    if not policy.enabled:
        raise Refusal("forbidden", "project is disabled")
    if now is not None and policy.schedule is not None:
        try:
            left = until_closing(policy, now)
        except Refusal as closed:
            figures = {**figures, **closed.figures, "limit": "closed-hours"}
            raise Refusal("extension-denied", closed.detail, figures) from None
        assert left is not None  # until_closing answers None only for a policy without working hours
        closing = timedelta(minutes=whole_minutes(elapsed + left))
        if closing < cap:
            cap, figures["capMinutes"], figures["closingCap"] = closing, whole_minutes(closing), True
    if target <= entry.lease:
        raise Refusal(
            "extension-denied",
            f"the lease of {whole_minutes(entry.lease)} min already covers the {whole_minutes(target)} min asked for",
            {**figures, "requestedMinutes": whole_minutes(target), "limit": "lease-covers"},
        )
    if entry.lease >= cap:
        limit = "closing" if figures.get("closingCap") else "hard-cap"
        where = "closing time" if limit == "closing" else "the hard cap"
        raise Refusal(
            "extension-denied", f"the lease is at {where} ({whole_minutes(cap)} min)", {**figures, "limit": limit}
        )
    wanted = min(target, cap)
    remaining, limit = budget_left(usage, caller_limits, caller)
    if limit == "caller":
        assert caller is not None  # budget_left names the caller's limit only when given its figures
        figures["caller"] = caller.name
    affordable = _affordable_lease(entry, remaining)
    granted = wanted if affordable is None else min(wanted, affordable)
    if granted <= entry.lease:
        whose = "the caller's" if limit == "caller" else "the"
        raise Refusal(
            "budget-exhausted",
            f"{whose} remaining budget cannot pay for a longer lease "
            f"({format_money(max(remaining or 0, 0), policy.currency)} left)",
            {**figures, "remainingBudget": money_text(remaining), "currency": policy.currency, "limit": limit},
        )
    extra = cost_of(entry.rate, whole_minutes(granted)) - cost_of(entry.rate, whole_minutes(entry.lease))
    return Extension(lease=granted, extra_cost=extra, partial=granted < target)


def _affordable_lease(entry: LedgerEntry, remaining: int | None) -> timedelta | None:
    if remaining is None or entry.rate <= 0:
        return None
    paid = cost_of(entry.rate, whole_minutes(entry.lease))
    # largest m with ceil(rate*m/60) - paid <= remaining
    return timedelta(minutes=max((remaining + paid) * 60 // entry.rate, 0))


# ---------------------------------------------------------------- the sweep: a whole step or nothing
def reserve_step(
    entry: LedgerEntry,
    arr_lease: timedelta,
    target: timedelta,
    usage: Mapping[Period, Usage],
    caller_limits: CallerLimits | None = None,
    caller: CallerFigures | None = None,
) -> timedelta:
    """The lease to reserve for the sweep's decided step `target`, judged again in the store's
    round: the current lease when the ledger or ARR (`arr_lease`) already holds it (another
    sweep or the gate extended it), else `target` if its whole extra cost is covered."""
    current = max(entry.lease, arr_lease)
    if target <= current:
        return entry.lease
    short = step_shortfall(usage, extension_cost(entry.rate, current, target), caller_limits, caller)
    if short is None:
        return target
    if short.limit == "caller":
        raise Refusal("extension-refused-caller", f"the caller {caller.name!r}'s budget does not cover the step")  # type: ignore[union-attr]
    raise Refusal("extension-refused-budget", f"the {short.period.value} budget does not cover the step")  # type: ignore[union-attr]


# ---------------------------------------------------------------- a lease update that failed
APPLIED, REFUSED, UNKNOWN = "applied", "refused", "unknown"


def failed_update(error: Exception, arr_lease: timedelta | None, target: timedelta) -> str:
    """What became of a lease update to `target` that raised `error`, judged from ARR's lease read
    after it (`arr_lease`; None: unreadable). `applied`: ARR holds it. `refused`: ARR certainly did
    nothing (it answered no, or the call never left: `did_nothing`) and holds less, so the
    reservation goes back. Otherwise `unknown`: after a timeout, a 5xx or a dropped connection the
    update may still land after the read, so the money stays reserved until a sweep sees ARR's lease."""
    if arr_lease is not None and ceil_minutes(arr_lease) >= ceil_minutes(target):
        return APPLIED
    if arr_lease is not None and isinstance(error, Unavailable) and error.did_nothing:
        return REFUSED
    return UNKNOWN


# ---------------------------------------------------------------- the saving of a refused step
# The governor's own limits: declining a step for one of them avoided its cost. "lease-covers",
# a disabled project or a session not running are no saving.
SAVING_LIMITS = ("budget", "caller", "hard-cap", "closing", "closed-hours")
# The sweep's refusal reasons, by the limit each stands for.
SWEEP_REFUSALS = {
    "extension-refused-budget": "budget",
    "extension-refused-caller": "caller",
    "extension-refused-cap": "hard-cap",
    "closed-hours": "closing",
}


def refused_step_saving(limit: str | None, rate: int, policy: ProjectPolicy, saved: int) -> int:
    """What a refusal for `limit` saves beyond the `saved` already recorded for the session: one
    extension step at the session's rate, once per session (0 otherwise)."""
    if limit not in SAVING_LIMITS:
        return 0
    amount = extension_saving(rate, policy.extension_step)
    return 0 if saved >= amount else amount
