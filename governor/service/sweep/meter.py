"""The sweep's money: usage as if every listed session were metered now, burn rates, and checkpoints.

Cost is always cost_of(rate, cumulative minutes) from ARR's own elapsed time, so a checkpoint
written twice or deferred never changes a total.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime

from governor.core.model import Period, SessionStatus, Usage, cost_of, whole_minutes
from governor.core.policy import sweep_steps as steps
from governor.service.ports import SweepStore

log = logging.getLogger("governor.sweep")


def effective_usage(snapshot, managed, clock: Callable[[], datetime]) -> dict[str, dict[Period, Usage]]:
    """Usage as if every listed session were metered now (metering itself may be deferred)."""
    spent: Counter[str] = Counter()
    unheld: Counter[str] = Counter()
    for entry, session in managed:
        delta = cost_of(entry.rate, whole_minutes(session.elapsed)) - entry.charged
        if delta > 0:
            spent[entry.project] += delta
            unheld[entry.project] += min(delta, entry.reserved)
    usage: dict[str, dict[Period, Usage]] = defaultdict(dict)
    for name, policy in snapshot.projects.items():
        for period, budget in ((Period.DAY, policy.daily_budget), (Period.MONTH, policy.monthly_budget)):
            stored = snapshot.usage.get((name, period))
            base = stored or Usage(name, period, period.key(snapshot.read_at or clock()), budget)
            usage[name][period] = replace(
                base, budget=budget, spent=base.spent + spent[name], reserved=base.reserved - unheld[name]
            )
    return usage


def burn_rates(managed) -> dict[str, int]:
    burn: Counter[str] = Counter()
    for entry, session in managed:
        if session.status is SessionStatus.READY:
            burn[entry.project] += entry.rate
    return burn


def meter(
    store: SweepStore,
    managed,
    now: datetime,
    errors: list[str],
    pool: ThreadPoolExecutor,
    checkpoint_minutes: int,
    charged: Counter | None = None,
    arr_time_scale: float = 1.0,
) -> int:
    """Write the checkpoints the pure rules say are due (`steps.checkpoints`: a project with a session
    `checkpoint_minutes` behind, or every project near the end of the UTC day), one project per
    write, in parallel. Cost is cost_of(rate, cumulative minutes), so deferring a checkpoint never
    changes a total; decisions meanwhile use usage as if metered now, and the gate's
    `budget - spent - reserved` is the same either way (metering moves money from a session's
    reservation to spent). `charged`, if given, receives the ARR minutes charged per project (for
    telemetry). `arr_time_scale`: ARR seconds per governor second, which tells the store how many of
    ARR's minutes came after UTC midnight (metered to the new day) and how many before it.
    """

    def meter_one(checkpoint: steps.Checkpoint) -> int:
        try:
            moved = store.meter_many(checkpoint.rows, now, arr_time_scale)
            if charged is not None:
                charged[checkpoint.project] += checkpoint.minutes
            return moved
        except Exception as exc:
            errors.append(f"meter {checkpoint.project}: {type(exc).__name__}"[:300])
            log.warning("metering failed; the next sweep charges the same minutes", exc_info=True)
            return 0

    return sum(pool.map(meter_one, steps.checkpoints(managed, now, checkpoint_minutes)))
