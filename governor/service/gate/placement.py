"""The gate's placement: where an attempt starts, and what happens when ARR has no server for it.

The rules are `governor.core.policy.placement`'s; this module reads the capacity memory, reserves at the
chosen place, and settles an attempt ARR ended for want of capacity (charged what ARR billed, the
failure remembered for its account and size). What follows a failed attempt is in `attempts`.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, replace
from datetime import datetime

from governor.core.model import (
    CapacityFailure,
    LedgerEntry,
    LedgerState,
    Period,
    ProjectPolicy,
    RetryPlan,
    Session,
    SessionStatus,
    Usage,
    cost_of,
    whole_minutes,
)
from governor.core.policy import gate as rules
from governor.core.policy import placement
from governor.core.policy.callers import PROJECT_ROW_SECONDS
from governor.core.policy.placement import Place
from governor.service.gate.base import Gate, Identity
from governor.service.ports import NotFound, Refusal, ServiceError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    """The attempt a reservation is for: its id, the request's plan, and the Idempotency-Key bookkeeping."""

    session_id: str
    plan: RetryPlan
    request_hash: str | None = None
    working_since: datetime | None = None


# ---------------------------------------------------------------- where
def places_for(gate: Gate, policy: ProjectPolicy, size, regions=()) -> list[Place]:
    """The places an attempt may go, in order; an account this instance has no client for is
    left out (none at all: the first, whose 503 says it is not configured)."""
    places = placement.candidates(policy, size, regions)
    return [place for place in places if place.account in gate.arr] or places[:1]


def remembered_failures(gate: Gate, project: str, places: list[Place]) -> dict[Place, datetime]:
    """The capacity memory, read only when there is a choice to make."""
    if len(places) < 2:
        return {}
    found = gate.store.capacity_failures(project)
    return {Place(account, size): at for (account, size), at in found.items()}


def next_place(gate: Gate, policy: ProjectPolicy, entry: LedgerEntry) -> Place:
    """Where the next attempt after `entry` would go now: a size fallback only if the project's
    remaining budget pays for its lease (as a retry's reservation would find)."""
    plan = placement.plan_of(entry)
    try:
        places = places_for(gate, policy, plan.size, plan.regions)
    except Refusal:  # the placement changed under the request's regions: the project's order
        places = places_for(gate, policy, plan.size)
    now = gate.clock()
    tries = placement.order(
        places, plan.size, remembered_failures(gate, policy.name, places), now, gate.capacity_window
    )
    remaining = None
    for place in tries[:-1]:
        if not placement.is_fallback(place, plan.size):
            return place
        if remaining is None:
            remaining = rules.tightest_remaining(gate.current_usage(policy, now))
        cost = cost_of(policy.rate(place.size, place.account), whole_minutes(entry.lease))
        if remaining is None or remaining >= cost:
            return place
    return tries[-1]


def reserve_at(
    gate: Gate,
    policy: ProjectPolicy,
    who: Identity,
    request,
    tries: list[Place],
    attempt: Attempt,
    now: datetime,
    fresh: bool,
) -> tuple[LedgerEntry, dict[Period, Usage]]:
    """Reserve the attempt at the first place of `tries` the project's rules admit. A size
    fallback the budget cannot pay for is passed over; any other refusal is the answer."""
    project = policy.name
    for index, place in enumerate(tries):
        pending = LedgerEntry(
            project=project,
            session_id=attempt.session_id,
            account=place.account,
            size=place.size,
            state=LedgerState.PENDING,
            requested_at=now,
            lease=request.lease,
            rate=policy.rate(place.size, place.account),
            caller=who.name,
            request_hash=attempt.request_hash,
            working_since=attempt.working_since,
            plan=attempt.plan if placement.keeps_plan(attempt.plan, place) else None,
        )
        decide = functools.partial(rules.admit, replace(request, size=place.size))
        try:
            entry, usage = gate.store.reserve(project, pending, decide, now, policy=policy, fresh=fresh, who=who.ref)
        except Refusal as refusal:
            fallback = placement.is_fallback(place, attempt.plan.size)
            if fallback and refusal.reason == "budget-exhausted" and index + 1 < len(tries):
                continue
            gate.audit(project, "-", "refuse", refusal.reason, refusal.figures, now, who.name)
            raise
        _audit_placement(gate, policy, entry, attempt.plan, now)
        return entry, usage
    raise AssertionError("unreachable: the last place's refusal is raised")


def abandoned(
    gate: Gate, project: str, previous_id: str, attempt_id: str | None = None, now: datetime | None = None
) -> bool:
    """The caller stopped the request while its next attempt was being reserved. Read after that
    reservation, as `actions.stop` looks for a next attempt only after marking the request: one of
    the two always sees the other, so no attempt of a stopped request is left to start. With
    `attempt_id`, the attempt reserved: then marked stopped too (nothing follows it) and given back."""
    previous = gate.store.get_entry(project, previous_id)
    if previous is None or not placement.stopped_by_caller(previous):
        return False
    if attempt_id is not None:
        gate.store.stop_request(project, attempt_id)
        gate.store.release(project, attempt_id, now or gate.clock())
    return True


def _audit_placement(gate: Gate, policy: ProjectPolicy, entry: LedgerEntry, plan: RetryPlan, now: datetime) -> None:
    """A placement decision: the attempt went elsewhere than the first place (the capacity memory
    moved it, or the size fell back); an attempt at the first place is the ledger row's record."""
    preferred = places_for(gate, policy, plan.size, plan.regions)[0]
    place = Place(entry.account, entry.size)
    if place == preferred:
        return
    reason = "size-fallback" if placement.is_fallback(place, plan.size) else "capacity-elsewhere"
    figures = {**place.figures(), "preferred": preferred.figures(), "attempt": plan.attempt, "rate": entry.rate}
    gate.audit(entry.project, entry.session_id, placement.PLACED, reason, figures, now, entry.caller)
    gate.announce(policy, placement.PLACED, entry.session_id, reason, figures)


# ---------------------------------------------------------------- capacity failures
def settle_capacity(gate: Gate, policy: ProjectPolicy | None, entry: LedgerEntry, session: Session) -> LedgerEntry:
    """ARR ended the attempt in Error for want of a server: remember that for its account and
    size, and close its row at ARR's billed minutes (the rest of the reservation goes back)."""
    now = gate.clock()
    failure = CapacityFailure(entry.project, entry.session_id, entry.account, entry.size, now)
    try:
        recorded = gate.store.record_capacity_failure(failure)
    except ServiceError:
        log.warning("could not record the capacity failure of %s", entry.session_id)
        recorded = False
    minutes = whole_minutes(session.elapsed)
    closed = gate.store.close(entry.project, entry.session_id, minutes, session.status.value, now, gate.arr_time_scale)
    gate.forget_reads(entry)
    if recorded:  # the first to see it tells; a poll and the sweep may both see it
        policy = policy or gate.store.get_project(entry.project, max_age=PROJECT_ROW_SECONDS)
        following = None if policy is None else next_place(gate, policy, closed)
        figures = {
            **Place(entry.account, entry.size).figures(),
            "minutes": minutes,
            "charged": closed.charged,
            "next": None if following is None else following.figures(),
        }
        reason = "insufficient-capacity"
        gate.audit(entry.project, entry.session_id, placement.CAPACITY, reason, figures, now, entry.caller)
        gate.announce(policy, placement.CAPACITY, entry.session_id, reason, figures)
    return closed


def failure_of(gate: Gate, entry: LedgerEntry) -> CapacityFailure | None:
    """The attempt's capacity failure: recorded, or (a row closed as Error before it was recorded)
    ARR's own word, recorded now."""
    if entry.state is not LedgerState.CLOSED or entry.final_status is not SessionStatus.ERROR:
        return None
    failure = gate.store.capacity_failure(entry.project, entry.session_id)
    if failure is not None or entry.charged_minutes:
        return failure
    try:
        final = gate.client(entry.account).get(entry.session_id)
    except (NotFound, ServiceError, Refusal):
        return None
    if not placement.capacity_failed(final):
        return None
    failure = CapacityFailure(entry.project, entry.session_id, entry.account, entry.size, gate.clock())
    try:
        gate.store.record_capacity_failure(failure)
    except ServiceError:  # known from ARR all the same; recorded by whoever reads it next
        log.warning("could not record the capacity failure of %s", entry.session_id)
    return failure


def failed_for_capacity(gate: Gate, entry: LedgerEntry) -> bool:
    return failure_of(gate, entry) is not None
