"""The sweep's part in placement: attempts it closed because ARR ended them for want of capacity.

Each is remembered for its account and size (audited and told once, whoever saw it first), and a
request that asked for `autoRetry` gets its next attempt, started through the gate's own placement
(`GateService.settle_for_capacity`) so the id and the rules are the ones a poll would use. Which
attempts, and under which project, the pure rules say (`steps.capacity_failure`,
`steps.next_attempt_policy`: not in dry-run, as starting an attempt is an action).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from governor.core.model import ProjectPolicy
from governor.core.policy import sweep_steps as steps
from governor.service.gate import GateService
from governor.service.ports import ArrPort, SweepStore
from governor.service.sweep.items import Item


def settle_capacity_failures(
    store: SweepStore,
    arr: Mapping[str, ArrPort],
    clock: Callable[[], datetime],
    items: list[Item],
    projects: Mapping[str, ProjectPolicy],
    window: timedelta,
    dry_run: bool,
    notify,
    errors: list[str],
    scale: float = 1.0,
) -> int:
    """Returns how many attempts it settled. `scale`: ARR seconds per governor second."""
    failed = [
        (item, item.entry, item.session)
        for item in items
        if steps.capacity_failure(item.decision, item.outcome, item.entry, item.session)
    ]
    if not failed:
        return 0
    gate = GateService(store, arr, clock, capacity_window=window, source="sweep", notify=notify, arr_time_scale=scale)
    for item, entry, session in failed:
        assert entry is not None and session is not None, "a capacity failure has its row and ARR's session"
        try:
            gate.settle_for_capacity(steps.next_attempt_policy(projects.get(item.project), dry_run), entry, session)
        except Exception as exc:  # the next poll of the request, or its retry, settles it
            errors.append(f"capacity {item.session_id}: {type(exc).__name__}"[:300])
    return len(failed)
