"""The gate's placement: where an attempt starts, and what happens when ARR has no server for it.

A mixin of `GateService` (it uses the service's store, ARR clients, clock, audit and `_launch`).
The rules are `governor.core.policy.placement`'s; this module reads the capacity memory, reserves at the
chosen place, settles an attempt ARR ended for want of capacity (charged what ARR billed, the
failure remembered for its account and size), and with `autoRetry` starts the next attempt under the
id the rules derive, so the gate's poll and the sweep (or two instances) start it once.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

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
    utc_text,
    whole_minutes,
)
from governor.core.policy import gate as rules
from governor.core.policy import placement
from governor.core.policy.callers import PROJECT_ROW_SECONDS
from governor.core.policy.placement import Place
from governor.service.ports import ArrPort, Conflict, GateStore, NotFound, Refusal, ServiceError

if TYPE_CHECKING:  # the mixin's host; imported for the checker only (gate imports this module)
    from governor.service.gate import Identity

log = logging.getLogger(__name__)

DEFAULT_CAPACITY_WINDOW = timedelta(minutes=10)  # GOVERNOR_CAPACITY_WINDOW_MINUTES' default


@dataclass(frozen=True)
class Attempt:
    """The attempt a reservation is for: its id, the request's plan, and the Idempotency-Key bookkeeping."""

    session_id: str
    plan: RetryPlan
    request_hash: str | None = None
    working_since: datetime | None = None


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


class GatePlacement:
    capacity_window: timedelta = DEFAULT_CAPACITY_WINDOW
    # What the host (`GateService`) provides: set in its __init__, and the methods below it defines.
    store: GateStore
    arr: Mapping[str, ArrPort]
    clock: Callable[[], datetime]

    if TYPE_CHECKING:

        def _usage(self, policy: ProjectPolicy, now: datetime) -> dict[Period, Usage]: ...
        def _audit(
            self,
            project: str,
            session_id: str,
            action: str,
            reason: str,
            figures: dict,
            now: datetime,
            caller: str | None = None,
        ) -> None: ...
        def _notify(
            self, policy: ProjectPolicy | None, event: str, session_id: str, reason: str, figures: dict
        ) -> None: ...
        def _forget_reads(self, entry: LedgerEntry) -> None: ...
        def _client(self, account: str) -> ArrPort: ...
        def _seen(self, entry: LedgerEntry) -> tuple[Session | None, float | None]: ...
        def _identity_of(self, policy: ProjectPolicy, name: str | None) -> Identity: ...
        def _launch(self, arr: ArrPort, entry: LedgerEntry, models: Sequence[str]) -> tuple[LedgerEntry, Session]: ...

    # ------------------------------------------------------------ where
    def _places(self, policy: ProjectPolicy, size, regions=()) -> list[Place]:
        """The places an attempt may go, in order; an account this instance has no client for is
        left out (none at all: the first, whose 503 says it is not configured)."""
        places = placement.candidates(policy, size, regions)
        return [place for place in places if place.account in self.arr] or places[:1]

    def _failures(self, project: str, places: list[Place]) -> dict[Place, datetime]:
        """The capacity memory, read only when there is a choice to make."""
        if len(places) < 2:
            return {}
        found = self.store.capacity_failures(project)
        return {Place(account, size): at for (account, size), at in found.items()}

    def _next_place(self, policy: ProjectPolicy, entry: LedgerEntry) -> Place:
        """Where the next attempt after `entry` would go now: a size fallback only if the project's
        remaining budget pays for its lease (as a retry's reservation would find)."""
        plan = placement.plan_of(entry)
        try:
            places = self._places(policy, plan.size, plan.regions)
        except Refusal:  # the placement changed under the request's regions: the project's order
            places = self._places(policy, plan.size)
        now = self.clock()
        tries = placement.order(places, plan.size, self._failures(policy.name, places), now, self.capacity_window)
        remaining = None
        for place in tries[:-1]:
            if not placement.is_fallback(place, plan.size):
                return place
            if remaining is None:
                remaining = rules.tightest_remaining(self._usage(policy, now))
            cost = cost_of(policy.rate(place.size, place.account), whole_minutes(entry.lease))
            if remaining is None or remaining >= cost:
                return place
        return tries[-1]

    def _reserve_at(
        self, policy: ProjectPolicy, who, request, tries: list[Place], attempt: Attempt, now: datetime, fresh: bool
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
            decide = functools.partial(rules.admit, replace(request, size=place.size), caller_limits=who.limits)
            try:
                entry, usage = self.store.reserve(
                    project, pending, decide, now, policy=policy, count_caller=who.limited, fresh=fresh
                )
            except Refusal as refusal:
                fallback = placement.is_fallback(place, attempt.plan.size)
                if fallback and refusal.reason == "budget-exhausted" and index + 1 < len(tries):
                    continue
                self._audit(project, "-", "refuse", refusal.reason, refusal.figures, now, who.name)
                raise
            self._audit_placement(policy, entry, attempt.plan, now)
            return entry, usage
        raise AssertionError("unreachable: the last place's refusal is raised")

    def _audit_placement(self, policy: ProjectPolicy, entry: LedgerEntry, plan: RetryPlan, now: datetime) -> None:
        """A placement decision: the attempt went elsewhere than the first place (the capacity memory
        moved it, or the size fell back); an attempt at the first place is the ledger row's record."""
        preferred = self._places(policy, plan.size, plan.regions)[0]
        place = Place(entry.account, entry.size)
        if place == preferred:
            return
        reason = "size-fallback" if placement.is_fallback(place, plan.size) else "capacity-elsewhere"
        figures = {**place.figures(), "preferred": preferred.figures(), "attempt": plan.attempt, "rate": entry.rate}
        self._audit(entry.project, entry.session_id, placement.PLACED, reason, figures, now, entry.caller)
        self._notify(policy, placement.PLACED, entry.session_id, reason, figures)

    # ------------------------------------------------------------ capacity failures
    def _settle_capacity(self, policy: ProjectPolicy | None, entry: LedgerEntry, session: Session) -> LedgerEntry:
        """ARR ended the attempt in Error for want of a server: remember that for its account and
        size, and close its row at ARR's billed minutes (the rest of the reservation goes back)."""
        now = self.clock()
        failure = CapacityFailure(entry.project, entry.session_id, entry.account, entry.size, now)
        try:
            recorded = self.store.record_capacity_failure(failure)
        except ServiceError:
            log.warning("could not record the capacity failure of %s", entry.session_id)
            recorded = False
        minutes = whole_minutes(session.elapsed)
        closed = self.store.close(entry.project, entry.session_id, minutes, session.status.value, now)
        self._forget_reads(entry)
        if recorded:  # the first to see it tells; a poll and the sweep may both see it
            policy = policy or self.store.get_project(entry.project, max_age=PROJECT_ROW_SECONDS)
            following = None if policy is None else self._next_place(policy, closed)
            figures = {
                **Place(entry.account, entry.size).figures(),
                "minutes": minutes,
                "charged": closed.charged,
                "next": None if following is None else following.figures(),
            }
            reason = "insufficient-capacity"
            self._audit(entry.project, entry.session_id, placement.CAPACITY, reason, figures, now, entry.caller)
            self._notify(policy, placement.CAPACITY, entry.session_id, reason, figures)
        return closed

    def _failure_of(self, entry: LedgerEntry) -> CapacityFailure | None:
        """The attempt's capacity failure: recorded, or (a row closed as Error before it was recorded)
        ARR's own word, recorded now."""
        if entry.state is not LedgerState.CLOSED or entry.final_status is not SessionStatus.ERROR:
            return None
        failure = self.store.capacity_failure(entry.project, entry.session_id)
        if failure is not None or entry.charged_minutes:
            return failure
        try:
            final = self._client(entry.account).get(entry.session_id)
        except (NotFound, ServiceError, Refusal):
            return None
        if not placement.capacity_failed(final):
            return None
        failure = CapacityFailure(entry.project, entry.session_id, entry.account, entry.size, self.clock())
        try:
            self.store.record_capacity_failure(failure)
        except ServiceError:  # known from ARR all the same; recorded by whoever reads it next
            log.warning("could not record the capacity failure of %s", entry.session_id)
        return failure

    def _failed_for_capacity(self, entry: LedgerEntry) -> bool:
        return self._failure_of(entry) is not None

    # ------------------------------------------------------------ the attempts of one request
    def _next_entry(self, entry: LedgerEntry) -> LedgerEntry | None:
        next_id = placement.next_attempt_id(entry.project, placement.plan_of(entry))
        return None if next_id is None else self.store.get_entry(entry.project, next_id)

    def _latest_attempt(self, entry: LedgerEntry) -> LedgerEntry:
        """The attempt that replaced `entry` after capacity failures (`entry` itself if none did)."""
        return entry if entry.state is not LedgerState.CLOSED else self._resolve(None, entry, None).entry

    def _resolve(
        self, policy: ProjectPolicy | None, entry: LedgerEntry, session: Session | None, age=None, start_next=False
    ) -> Resolved:
        """From a polled attempt to the one that stands for it: an attempt ARR ended for capacity is
        settled, and the next one followed (or, `start_next` with autoRetry, started). A next attempt
        the governor started that made nothing (its create failed before ARR acted) is passed over
        the same way: its client never saw it fail."""
        current = Resolved(entry, session, age)
        for _ in range(rules.MAX_ATTEMPTS):
            session = current.session
            if (
                current.entry.state is not LedgerState.CLOSED
                and session is not None
                and placement.capacity_failed(session)
            ):
                current.entry, current.session = self._settle_capacity(policy, current.entry, session), None
            failure = self._failure_of(current.entry)
            if failure is not None:
                current.failed.append((current.entry, failure))
            elif not (current.entry.released and current.entry.session_id != entry.session_id):
                break
            following = self._next_entry(current.entry)  # a retry with the key, or autoRetry, started it
            if following is None and start_next and policy is not None:
                start_next = False  # one start per poll: a failing ARR does not use up the attempts at once
                following = self.start_next(policy, current.entry)
            if following is None:
                break
            current.entry = following
            current.session, current.age = self._seen(following)
        return current

    def _placement_view(self, policy: ProjectPolicy, current: Resolved) -> dict:
        """The answer's placement fields: the failed attempts before this one, and for an attempt
        that failed for capacity, the error and where the next attempt would go."""
        view: dict = {}
        before = current.failed[:-1] if current.ended_for_capacity else current.failed
        if before:
            view["previousAttempts"] = [attempt_view(entry, failure) for entry, failure in before]
        if current.ended_for_capacity:
            entry = current.entry
            following = self._next_place(policy, entry)
            view["error"] = {
                "code": placement.CAPACITY,
                "message": f"ARR had no {entry.size.value} server free in {entry.account}; retry to start the "
                "next attempt",
            }
            view["retry"] = {"next": following.figures(), "autoRetry": placement.plan_of(entry).auto_retry}
        return view

    def start_next(self, policy: ProjectPolicy, failed: LedgerEntry) -> LedgerEntry | None:
        """With autoRetry: the attempt after `failed` (one that failed for capacity), started now at
        the first place with no recent failure, or found if someone started it; None when the request
        did not ask, has had its attempts, or has nowhere to go that the rules admit."""
        plan = failed.plan
        if plan is None or not plan.auto_retry:
            return None
        next_id = placement.next_attempt_id(policy.name, plan)
        if next_id is None:
            return None
        existing = self.store.get_entry(policy.name, next_id)
        if existing is not None or not policy.enabled:
            return existing
        now = self.clock()
        asked = rules.SessionRequest(plan.size, failed.lease, plan.models, plan.regions, auto_retry=True)
        try:
            request, _ = rules.cap_at_closing(policy, asked, now)
            places = self._places(policy, plan.size, plan.regions)
        except Refusal as refusal:
            self._audit(policy.name, failed.session_id, "refuse", refusal.reason, refusal.figures, now, failed.caller)
            return None
        tries = placement.free(places, self._failures(policy.name, places), now, self.capacity_window)
        if not tries:
            return None
        working = now if plan.idempotency_key else None
        attempt = Attempt(next_id, placement.next_plan(plan), failed.request_hash, working)
        who = self._identity_of(policy, failed.caller)
        try:
            entry, _ = self._reserve_at(policy, who, request, tries, attempt, now, fresh=False)
        except Conflict:  # another instance, or the sweep, reserved it first
            return self.store.get_entry(policy.name, next_id)
        except Refusal:
            return None
        try:
            entry, _ = self._launch(self._client(entry.account), entry, request.models)
        except Exception:  # its row is pending, released or a claim: the next poll or the sweep goes on
            log.warning("the next attempt %s did not start", next_id, exc_info=True)
            return self.store.get_entry(policy.name, next_id)
        return entry

    def settle_for_capacity(self, policy: ProjectPolicy | None, entry: LedgerEntry, session: Session) -> None:
        """What the sweep does with an attempt it saw ARR end for capacity: settle and remember it,
        and with autoRetry start the next attempt."""
        closed = self._settle_capacity(policy, entry, session)
        if policy is not None:
            self.start_next(policy, closed)


def attempt_view(entry: LedgerEntry, failure: CapacityFailure) -> dict:
    return {
        "sessionId": entry.session_id,
        "account": failure.account,
        "size": failure.size.value,
        "error": placement.CAPACITY,
        "failedAt": utc_text(failure.at),
    }
