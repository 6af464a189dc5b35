"""Escrow slices: budget and concurrency one instance took from its project, so that its
admissions write only its own slice row and the session row, not the `!state` row every instance
fights over (docs/storage.md, Escrow slices).

The state row counts a slice as taken: `Open` includes its `Slots` and `Held` its `Free`. So every
other money operation keeps its arithmetic, and an admission from a slice moves money from the
slice's `Free` to the entry's `Reserved` without touching the state row. Figures and decisions
subtract the escrow (they see what the project really runs and holds), and a write that would
leave the escrow unbacked (more taken than the budget or `maxConcurrent` allows) takes every slice
back in the same transaction. So nothing is refused because money sits in a slice, and nothing is
admitted that the project as a whole could not pay.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from governor.core.model import AdmissionSnapshot, Period, ProjectPolicy, Usage
from governor.store.entities import get, i64

SLICE_PREFIX = "slice|"
SLICE_SECONDS = 30  # a slice its owner has not used for this long may be taken back by anyone
MAX_SLICES = 48  # per project: taking them all back fits one transaction beside a batch
SLICE_SESSIONS = 16  # admissions a first slice holds at most
MAX_SLICE_SESSIONS = 64  # a busy owner's slice doubles each time it runs dry, up to this
SHARE = 4  # a slice takes at most a quarter of what is still free
MIN_SESSIONS = 2  # a slice for fewer is not worth a row: near exhaustion, the exact path only


def slice_key(owner: str) -> str:
    return SLICE_PREFIX + owner


def is_slice(key: str) -> bool:
    return key.startswith(SLICE_PREFIX)


@dataclass(frozen=True)
class Slice:
    free: int  # micros still free to reserve
    slots: int  # admissions still free
    until: datetime


def slice_of(row: dict) -> Slice:
    return Slice(get(row, "Free", 0), get(row, "Slots", 0), get(row, "Until"))


def escrow_of(rows: Iterable[dict | None]) -> tuple[int, int]:
    """(free micros, free slots) over the slice rows given."""
    free = slots = 0
    for row in rows:
        if row is not None:
            free += get(row, "Free", 0)
            slots += get(row, "Slots", 0)
    return free, slots


def slice_entity(
    project: str, owner: str, free: int, slots: int, until: datetime, policy: ProjectPolicy, size: int
) -> dict:
    """The row, with the limits it was sized under (a policy lowered since makes it unusable) and
    the admissions it held when sized (`Size`)."""
    row = {
        "PartitionKey": project,
        "RowKey": slice_key(owner),
        "Free": i64(free),
        "Slots": slots,
        "Size": size,
        "Until": until,
        "MaxConcurrent": policy.max_concurrent,
    }
    for column, budget in (("DayBudget", policy.daily_budget), ("MonthBudget", policy.monthly_budget)):
        if budget is not None:
            row[column] = i64(budget)
    return row


def usable(row: dict, policy: ProjectPolicy) -> bool:
    """Its owner may admit from it: the policy allows at least what it was sized under. (Past its
    `Until` too: the write renews it, and fails on the ETag if someone took it back meanwhile.)"""
    if policy.max_concurrent < get(row, "MaxConcurrent", 0):
        return False
    for column, budget in (("DayBudget", policy.daily_budget), ("MonthBudget", policy.monthly_budget)):
        sized = get(row, column)
        if (sized is None) != (budget is None) or (budget is not None and budget < sized):
            return False
    return True


def snapshot(policy: ProjectPolicy, free: int, slots: int, now: datetime) -> AdmissionSnapshot:
    """What an admission from a slice decides on: the slice's slots and money as all that is free."""
    usage = {}
    for period, budget in ((Period.DAY, policy.daily_budget), (Period.MONTH, policy.monthly_budget)):
        reserved = 0 if budget is None else budget - free
        usage[period] = Usage(policy.name, period, period.key(now), budget, reserved=reserved)
    return AdmissionSnapshot(policy, policy.max_concurrent - slots, usage)


def free_money(policy: ProjectPolicy, spent: dict[Period, int], held: int) -> int | None:
    """Budget not yet spent or held (slices count as held) in the tightest period; None: unlimited."""
    left = [
        budget - spent.get(period, 0) - held
        for period, budget in ((Period.DAY, policy.daily_budget), (Period.MONTH, policy.monthly_budget))
        if budget is not None
    ]
    return min(left) if left else None


def size(open_free: int, money_free: int | None, per_session: int, wanted: int) -> tuple[int, int]:
    """(slots, micros) of a slice of `wanted` admissions, out of what is free besides it; (0, 0)
    when not worth one."""
    slots = min(wanted, MAX_SLICE_SESSIONS, open_free // SHARE)
    if money_free is not None:
        slots = min(slots, money_free // SHARE // max(per_session, 1))
    if slots < MIN_SESSIONS:
        return 0, 0
    return slots, slots * per_session


def wanted(current: dict | None, admissions: int) -> int:
    """A first slice holds SLICE_SESSIONS; one that ran dry, twice what it held; and always room
    for twice the batch that asks."""
    held = get(current, "Size", 0) if current is not None else 0
    return max(SLICE_SESSIONS, 2 * held, 2 * admissions)


def backed(policy: ProjectPolicy, spent: dict[Period, int], held: int, open_count: int) -> bool:
    """The state row's totals (slices included) are within the project's limits."""
    money = free_money(policy, spent, held)
    return open_count <= policy.max_concurrent and (money is None or money >= 0)
