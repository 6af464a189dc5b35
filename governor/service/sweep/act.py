"""The sweep's acts: stop, extend, record, adopt, close, activate, release. Each repeats harmlessly.

An extension is reserved in the ledger before ARR is asked, so a run that dies in between is
repaired by the next one re-applying the ledger's lease. How an act went is recorded on the item
(`steps.act_outcome`); what to write comes from the pure rules (`governor.core.policy.sweep_steps`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from governor.core.model import CallerRef, LedgerEntry, Period, Usage, minutes_figure
from governor.core.policy import sweep as rules
from governor.core.policy import sweep_steps as steps
from governor.core.policy.sweep import Action
from governor.service.ports import ArrPort, NotFound, Rejected, ServiceError, SweepStore
from governor.service.sweep.items import Item
from governor.service.sweep.record import record_stop


def act(
    store: SweepStore,
    arr: Mapping[str, ArrPort],
    item: Item,
    now: datetime,
    scale: float = 1.0,
    clock: Callable[[], datetime] | None = None,
) -> None:
    """`scale`: ARR seconds per governor second, for which day a final charge's minutes are;
    `clock`: when a close happens, after ARR gave the final count (`now` without one)."""
    clock = clock or (lambda: now)
    if item.decision.dry_run:
        item.outcome = steps.SKIPPED
        return
    action = item.decision.action
    try:
        if action is Action.STOP:
            _stop(store, arr[item.account], item, now, scale, clock)
        elif action is Action.EXTEND:
            _extend(store, arr[item.account], item, now)
        elif action is Action.RECORD:
            _record_lease(store, item, now)
        elif action is Action.ADOPT:
            assert item.session is not None, "adopt is decided for a listed session (decide_unmanaged)"
            store.adopt(item.project, item.session, now)
        elif action is Action.CLOSE:
            assert item.entry is not None, "close is decided for a ledger row (decide, decide_pending, decide_vanished)"
            final, status = steps.close_terms(item.decision, item.entry, item.session)
            # ARR's count came after the lists (a look-up), maybe after a midnight the sweep began before
            store.close(item.project, item.session_id, final, status, clock(), scale)
        elif action is Action.ACTIVATE:
            assert item.session is not None, "activate is decided only when ARR has the session"
            store.activate(item.project, item.session_id, item.session)
        elif action is Action.RELEASE:
            store.release(item.project, item.session_id, now)
    except Exception as exc:  # a rule refused, or ARR or the store failed: recorded, retried by the next sweep
        item.outcome, item.error = steps.act_outcome(exc)
        if isinstance(exc, ServiceError):
            item.ms_cv = exc.ms_cv


def _stop(
    store: SweepStore, client: ArrPort, item: Item, now: datetime, scale: float, clock: Callable[[], datetime]
) -> None:
    if item.claim is not None:  # made by an ambiguous v1 create: charged from its start, then stopped
        assert item.session is not None, "a claim is matched to a listed session (policy.sweep_reconcile)"
        # charged first, so a run that dies here keeps its minutes; marked, so later sweeps stop it
        item.entry = store.adopt(item.claim.project, item.session, now, claim=True)
    with contextlib.suppress(NotFound):  # already gone: the stop is done
        client.stop(item.session_id)
    if item.entry is None:
        return  # unmanaged: nothing to settle
    try:
        final = client.get(item.session_id)
    except Exception:
        return  # settled by the next sweep, which sees the session gone
    minutes = steps.stop_settled(final)
    if minutes is not None:
        # ARR's count is as of its answer, seconds or minutes into the sweep: after midnight, maybe
        at = clock()
        closed = store.close(item.project, item.session_id, minutes, final.status.value, at, scale)
        record_stop(store, closed, at)  # the saving on the close's day


def _extend(store: SweepStore, client: ArrPort, item: Item, now: datetime) -> None:
    target = item.decision.new_lease
    assert target is not None, "an extend decision always carries its new lease (policy.sweep.decide)"
    if item.decision.reserve:
        target = _reserve_extension(store, item, now)
    try:
        applied = client.update_lease(item.session_id, target)
    except Rejected:
        applied = client.get(item.session_id)  # 422: ARR may already hold this lease or more
        if steps.must_revert(applied.max_lease, target):
            store.revert_extension(item.project, item.session_id, applied.max_lease, now, extended_to=target)
            raise
    item.decision.figures["applied_lease_minutes"] = minutes_figure(applied.max_lease)


def _reserve_extension(store: SweepStore, item: Item, now: datetime) -> timedelta:
    session, entry, target = item.session, item.entry, item.decision.new_lease  # the step decided from the snapshot
    # an extension is decided only for a session ARR listed and its ledger row, with its target lease
    # (policy.sweep.decide)
    assert session is not None and entry is not None and target is not None

    # The round decides by the project row it reads and the session caller's limits by it, as the
    # gate's extension does: it may run seconds after the sweep's snapshot (ARR's calls, ETag
    # retries), and a step, hard cap, closing time or limit lowered meanwhile must hold.
    def decide(current: LedgerEntry, usage: dict[Period, Usage], caller=None, **round_) -> timedelta:
        return rules.round_step(current, session, target, round_["policy"], now, usage, round_["limits"], caller)

    owner = CallerRef(entry.caller) if entry.caller else None
    extended, _ = store.extend(item.project, item.session_id, decide, now, by_round=True, who=owner)
    held = max(entry.lease, session.max_lease)  # as the sweep decided from it
    item.decision.figures.update(steps.shortened_step(target, held, extended.rate, extended.lease))
    return extended.lease


def _record_lease(store: SweepStore, item: Item, now: datetime) -> None:
    """ARR holds a longer lease than the ledger (raised outside the governor): write it and reserve
    its extra cost without asking ARR or the budget, since ARR bills it either way."""
    arr_lease = item.decision.new_lease
    assert arr_lease is not None, "a record decision carries ARR's lease (policy.sweep.decide)"

    def decide(entry: LedgerEntry, usage: dict[Period, Usage]) -> timedelta:
        return steps.recorded_lease(entry, arr_lease)

    entry, _ = store.extend(item.project, item.session_id, decide, now, count=False)
    item.decision.figures["recorded_lease_minutes"] = minutes_figure(entry.lease)
