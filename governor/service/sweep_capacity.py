"""The sweep's part in placement: attempts it closed because ARR ended them for want of capacity.

Each is remembered for its account and size (audited and told once, whoever saw it first), and a
request that asked for `autoRetry` gets its next attempt, started through the gate's own placement
(`GateService.settle_for_capacity`) so the id and the rules are the ones a poll would use. Not in
dry-run: starting an attempt is an action.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from governor.core.model import ProjectPolicy
from governor.core.policy import placement
from governor.core.policy.sweep import Action
from governor.service.ports import ArrPort, SweepStore
from governor.service.sweep_items import Item


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
) -> int:
    """Returns how many attempts it settled."""
    from governor.service.gate import GateService

    failed = [
        (item, item.entry, item.session)
        for item in items
        if item.decision.action is Action.CLOSE
        and item.outcome == "ok"
        and item.entry is not None
        and item.session is not None
        and placement.capacity_failed(item.session)
    ]
    if not failed:
        return 0
    gate = GateService(store, arr, clock, capacity_window=window, source="sweep", notify=notify)
    for item, entry, session in failed:
        policy = projects.get(item.project)
        acting = policy is not None and not (dry_run or policy.dry_run)
        try:
            gate.settle_for_capacity(policy if acting else None, entry, session)
        except Exception as exc:  # the next poll of the request, or its retry, settles it
            errors.append(f"capacity {item.session_id}: {type(exc).__name__}"[:300])
    return len(failed)
