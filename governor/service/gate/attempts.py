"""The attempts of one request: from a polled id to the attempt that stands for it now, and with
`autoRetry` the next attempt after one ARR ended for want of capacity, started under the id the rules
derive, so the gate's poll and the sweep (or two instances) start it once.

Apart from `placement` because starting an attempt is admission's (`launch`), and admission settles
capacity failures through `placement`.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field

from governor.core.model import CapacityFailure, LedgerEntry, LedgerState, ProjectPolicy, Session, utc_text
from governor.core.policy import gate as rules
from governor.core.policy import placement
from governor.service.gate.admission import launch
from governor.service.gate.base import Gate
from governor.service.gate.placement import (
    Attempt,
    abandoned,
    failure_of,
    next_place,
    places_for,
    remembered_failures,
    reserve_at,
    settle_capacity,
)
from governor.service.ports import Conflict, Refusal

log = logging.getLogger(__name__)


@dataclass
class Resolved:
    """The attempt that stands for a polled id now, and the attempts before it that failed for capacity."""

    entry: LedgerEntry
    session: Session | None
    age: float | None
    failed: list[tuple[LedgerEntry, CapacityFailure]] = field(default_factory=list)

    @property
    def ended_for_capacity(self) -> bool:
        return bool(self.failed) and self.failed[-1][0].session_id == self.entry.session_id


def entry_of(gate: Gate, project: str, session_id: str, open_only: bool = False) -> LedgerEntry:
    """The entry of `session_id`, or of the attempt that replaced it after a capacity failure."""
    rules.check_session_id(session_id)
    entry = found(gate.store.get_entry(project, session_id), session_id)
    return found(_latest_attempt(gate, entry), session_id, open_only)


def found(entry: LedgerEntry | None, session_id: str, open_only: bool = False) -> LedgerEntry:
    if entry is None:
        raise Refusal("not-found", f"no session {session_id!r} in this project")
    if open_only and entry.state is LedgerState.CLOSED:
        raise Refusal("not-found", f"session {session_id!r} is closed")
    return entry


def next_entry(gate: Gate, entry: LedgerEntry) -> LedgerEntry | None:
    """The attempt after `entry`, if anyone reserved it."""
    next_id = placement.next_attempt_id(entry.project, placement.plan_of(entry))
    return None if next_id is None else gate.store.get_entry(entry.project, next_id)


def _latest_attempt(gate: Gate, entry: LedgerEntry) -> LedgerEntry:
    """The attempt that replaced `entry` after capacity failures (`entry` itself if none did)."""
    return entry if entry.state is not LedgerState.CLOSED else resolve(gate, None, entry, None).entry


def resolve(
    gate: Gate, policy: ProjectPolicy | None, entry: LedgerEntry, session: Session | None, age=None, start=False
) -> Resolved:
    """From a polled attempt to the one that stands for it: an attempt ARR ended for capacity is
    settled, and the next one followed (or, `start` with autoRetry, started). A next attempt
    the governor started that made nothing (its create failed before ARR acted) is passed over
    the same way: its client never saw it fail."""
    current = Resolved(entry, session, age)
    for _ in range(rules.MAX_ATTEMPTS):
        session = current.session
        if current.entry.state is not LedgerState.CLOSED and session is not None and placement.capacity_failed(session):
            current.entry, current.session = settle_capacity(gate, policy, current.entry, session), None
        failure = failure_of(gate, current.entry)
        if failure is not None:
            current.failed.append((current.entry, failure))
        elif not (current.entry.released and current.entry.session_id != entry.session_id):
            break
        following = next_entry(gate, current.entry)  # a retry with the key, or autoRetry, started it
        if following is None and start and policy is not None:
            start = False  # one start per poll: a failing ARR does not use up the attempts at once
            following = start_next(gate, policy, current.entry)
        if following is None:
            break
        current.entry = following
        current.session, current.age = gate.seen(following)
    return current


def placement_view(gate: Gate, policy: ProjectPolicy, current: Resolved) -> dict:
    """The answer's placement fields: the failed attempts before this one, and for an attempt
    that failed for capacity, the error and where the next attempt would go."""
    view: dict = {}
    before = current.failed[:-1] if current.ended_for_capacity else current.failed
    if before:
        view["previousAttempts"] = [attempt_view(entry, failure) for entry, failure in before]
    if current.ended_for_capacity:
        entry = current.entry
        message = f"ARR had no {entry.size.value} server free in {entry.account}"
        if placement.stopped_by_caller(entry):  # nothing follows it: no retry to offer
            view["error"] = {"code": placement.CAPACITY, "message": f"{message}; the request was stopped"}
            return view
        following = next_place(gate, policy, entry)
        view["error"] = {"code": placement.CAPACITY, "message": f"{message}; retry to start the next attempt"}
        view["retry"] = {"next": following.figures(), "autoRetry": placement.plan_of(entry).auto_retry}
    return view


def start_next(gate: Gate, policy: ProjectPolicy, failed: LedgerEntry) -> LedgerEntry | None:
    """With autoRetry: the attempt after `failed` (one that failed for capacity), started now at
    the first place with no recent failure, or found if someone started it; None when the request
    did not ask, was stopped by its caller, has had its attempts, or has nowhere to go that the
    rules admit."""
    plan = failed.plan
    if plan is None or not placement.retries_itself(plan):
        return None
    next_id = placement.next_attempt_id(policy.name, plan)
    if next_id is None:
        return None
    existing = gate.store.get_entry(policy.name, next_id)
    if existing is not None or not policy.enabled:
        return existing
    now = gate.clock()
    asked = rules.SessionRequest(plan.size, failed.lease, plan.models, plan.regions, auto_retry=True)
    try:
        request, _ = rules.cap_at_closing(policy, asked, now)
        places = places_for(gate, policy, plan.size, plan.regions)
    except Refusal as refusal:
        gate.audit(policy.name, failed.session_id, "refuse", refusal.reason, refusal.figures, now, failed.caller)
        return None
    tries = placement.free(places, remembered_failures(gate, policy.name, places), now, gate.capacity_window)
    if not tries:
        return None
    working = now if plan.idempotency_key else None
    attempt = Attempt(next_id, placement.next_plan(plan), failed.request_hash, working)
    who = gate.identity_of(policy, failed.caller)
    try:
        entry, _ = reserve_at(gate, policy, who, request, tries, attempt, now, fresh=False)
    except Conflict:  # another instance, or the sweep, reserved it first
        return gate.store.get_entry(policy.name, next_id)
    except Refusal:
        return None
    if abandoned(gate, policy.name, failed.session_id, next_id, now):
        return None
    arr = gate.client(entry.account)
    try:
        entry, _ = launch(gate, arr, entry, request.models)
    except Exception:  # its row is pending, released or a claim: the next poll or the sweep goes on
        log.warning("the next attempt %s did not start", next_id, exc_info=True)
        return gate.store.get_entry(policy.name, next_id)
    if abandoned(gate, policy.name, next_id):
        # the caller's stop found this attempt while ARR made it (and may have given its row back
        # before ARR had it): end what ARR made; failing that, the sweep stops a session its row closed
        with contextlib.suppress(Exception):
            arr.stop(next_id)
        return gate.store.get_entry(policy.name, next_id)
    return entry


def settle_for_capacity(gate: Gate, policy: ProjectPolicy | None, entry: LedgerEntry, session: Session) -> None:
    """What the sweep does with an attempt it saw ARR end for capacity: settle and remember it,
    and with autoRetry start the next attempt."""
    closed = settle_capacity(gate, policy, entry, session)
    if policy is not None:
        start_next(gate, policy, closed)


def attempt_view(entry: LedgerEntry, failure: CapacityFailure) -> dict:
    return {
        "sessionId": entry.session_id,
        "account": failure.account,
        "size": failure.size.value,
        "error": placement.CAPACITY,
        "failedAt": utc_text(failure.at),
    }
