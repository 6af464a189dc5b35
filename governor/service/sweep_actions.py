"""The sweep's acts: stop, extend, record, adopt, close, activate, release. Each repeats harmlessly.

An extension is reserved in the ledger before ARR is asked, so a run that dies in between is
repaired by the next one re-applying the ledger's lease. A failure is recorded on the item.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime, timedelta

from governor.core.model import (
    CallerFigures,
    LedgerEntry,
    Period,
    SessionStatus,
    Usage,
    ceil_minutes,
    minutes_figure,
    whole_minutes,
)
from governor.core.policy.extension import reserve_step
from governor.core.policy.sweep import Action
from governor.service.ports import ArrPort, NotFound, Refusal, Rejected, ServiceError, SweepStore
from governor.service.sweep_items import Item, failure
from governor.service.sweep_savings import record_stop


def act(store: SweepStore, arr: Mapping[str, ArrPort], item: Item, now: datetime) -> None:
    if item.decision.dry_run:
        item.outcome = "skipped"
        return
    action = item.decision.action
    try:
        if action is Action.STOP:
            _stop(store, arr[item.account], item, now)
        elif action is Action.EXTEND:
            _extend(store, arr[item.account], item, now)
        elif action is Action.RECORD:
            _record_lease(store, item, now)
        elif action is Action.ADOPT:
            assert item.session is not None, "adopt is decided for a listed session (decide_unmanaged)"
            store.adopt(item.project, item.session, now)
        elif action is Action.CLOSE:
            assert item.entry is not None, "close is decided for a ledger row (decide, decide_pending, decide_vanished)"
            final = item.decision.figures.get("final_minutes", item.entry.charged_minutes)
            status = item.session.status.value if item.session else SessionStatus.STOPPED.value
            store.close(item.project, item.session_id, final, status, now)
        elif action is Action.ACTIVATE:
            assert item.session is not None, "activate is decided only when ARR has the session"
            store.activate(item.project, item.session_id, item.session)
        elif action is Action.RELEASE:
            store.release(item.project, item.session_id, now)
    except Refusal as exc:
        item.outcome, item.error = "skipped", exc.reason
    except ServiceError as exc:  # ARR or the store failed: recorded, retried by the next sweep
        item.outcome, item.error, item.ms_cv = "failed", failure(exc), exc.ms_cv
    except Exception as exc:
        item.outcome, item.error = "failed", type(exc).__name__


def _stop(store: SweepStore, client: ArrPort, item: Item, now: datetime) -> None:
    if item.claim is not None:  # made by an ambiguous v1 create: charged from its start, then stopped
        assert item.session is not None, "a claim is matched to a listed session (sweep_reconcile)"
        item.entry = store.adopt(item.claim.project, item.session, now)
    with contextlib.suppress(NotFound):  # already gone: the stop is done
        client.stop(item.session_id)
    if item.entry is None:
        return  # unmanaged: nothing to settle
    try:
        final = client.get(item.session_id)
    except Exception:
        return  # settled by the next sweep, which sees the session gone
    if not final.status.active:
        closed = store.close(item.project, item.session_id, whole_minutes(final.elapsed), final.status.value, now)
        record_stop(store, closed, now)


def _extend(store: SweepStore, client: ArrPort, item: Item, now: datetime) -> None:
    target = item.decision.new_lease
    assert target is not None, "an extend decision always carries its new lease (policy.sweep.decide)"
    if item.decision.reserve:
        target = _reserve_extension(store, item, now)
    try:
        applied = client.update_lease(item.session_id, target)
    except Rejected:
        applied = client.get(item.session_id)  # 422: ARR may already hold this lease or more
        if ceil_minutes(applied.max_lease) < ceil_minutes(target):
            # ARR refuses this lease for good: give the reservation back rather than retry forever
            store.revert_extension(item.project, item.session_id, applied.max_lease, now)
            raise
    item.decision.figures["applied_lease_minutes"] = minutes_figure(applied.max_lease)


def _reserve_extension(store: SweepStore, item: Item, now: datetime) -> timedelta:
    session, target = item.session, item.decision.new_lease  # the decided step (within caps and closing time)
    limits = item.caller_limits
    # an extension is decided only for a session ARR listed, with its target lease (policy.sweep.decide)
    assert session is not None and target is not None

    def decide(entry: LedgerEntry, usage: dict[Period, Usage], caller: CallerFigures | None = None) -> timedelta:
        return reserve_step(entry, session.max_lease, target, usage, limits, caller)

    # with limits of its own, the caller's figures are read and guarded in the extension's round
    entry, _ = store.extend(item.project, item.session_id, decide, now, count_caller=limits is not None)
    return entry.lease


def _record_lease(store: SweepStore, item: Item, now: datetime) -> None:
    """ARR holds a longer lease than the ledger (raised outside the governor): write it and reserve
    its extra cost without asking ARR or the budget, since ARR bills it either way. A re-run finds
    the ledger already there and writes nothing."""
    arr_lease = item.decision.new_lease
    assert arr_lease is not None, "a record decision carries ARR's lease (policy.sweep.decide)"

    def decide(entry: LedgerEntry, usage: dict[Period, Usage]) -> timedelta:
        return max(entry.lease, arr_lease)

    entry, _ = store.extend(item.project, item.session_id, decide, now, count=False)
    item.decision.figures["recorded_lease_minutes"] = minutes_figure(entry.lease)
