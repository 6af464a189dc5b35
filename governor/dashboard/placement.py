"""Placement over the day: sessions per account, and capacity failures per account and size. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from governor.core.model import CapacityFailure, LedgerEntry, Period, ProjectPolicy


@dataclass(frozen=True)
class PlacementRow:
    """One project's account and size today: sessions placed there, and attempts ARR ended there for
    want of servers."""

    project: str
    account: str
    size: str
    sessions: int
    capacity_failures: int


def placement_rows(
    policies: Iterable[ProjectPolicy],
    entries: Mapping[str, Sequence[LedgerEntry]],
    failures: Iterable[CapacityFailure],
    now: datetime,
) -> list[PlacementRow]:
    """Per project with more than one account in its placement, or any capacity failure today:
    every (account, size) that had a session or a failure today (UTC)."""
    today = Period.DAY.key(now)
    failures = [f for f in failures if Period.DAY.key(f.at) == today]
    failed_ids = {(f.project, f.session_id) for f in failures}
    rows = []
    for policy in sorted(policies, key=lambda p: p.name):
        failed = Counter((f.account, f.size.value) for f in failures if f.project == policy.name)
        if len(policy.accounts) < 2 and not failed:
            continue
        placed = Counter(
            (e.account, e.size.value)
            for e in entries.get(policy.name, ())
            if Period.DAY.key(e.requested_at) == today and (policy.name, e.session_id) not in failed_ids
        )
        for account, size in sorted(set(placed) | set(failed)):
            rows.append(PlacementRow(policy.name, account, size, placed[(account, size)], failed[(account, size)]))
    return rows
