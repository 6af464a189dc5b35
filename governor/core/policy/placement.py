"""Placement: which ARR account and size a session's next attempt goes to. Pure: no I/O, no clock.

A project's `placement` orders the accounts it may use (default: its one `account`); a request's
`regions` narrows and reorders them. An attempt goes to the first (account, size) with no capacity
failure remembered within the window; with `sizeFallback: premium`, Premium in the same accounts
comes after every Standard place (the gate takes it only if the budget pays). When every place failed
within the window, a request still goes to the asked size where the failure is oldest (ARR may have
freed a server, and a failed create bills nothing); an automatic retry does not.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from governor.core.model import LedgerEntry, ProjectPolicy, RetryPlan, Session, SessionStatus, SizeFallback, VmSize
from governor.core.policy.gate import MAX_ATTEMPTS, SessionRequest, bad_request, session_id_for

# ARR's answer when every server of the size is in use in the region (2021-01-01 `error.code`; v1 has
# only the message).
ARR_CAPACITY_CODE = "InsufficientCapacity"
ARR_CAPACITY_TEXT = "not enough capacity"
CAPACITY = "capacity"  # the `error.code` the gate answers for such a session
PLACED = "placement"
# Audit actions and webhook events: an attempt placed other than at the first place (or a retry), and
# an attempt ARR ended for want of servers. Each names the account and size.
EVENTS = (PLACED, CAPACITY)
_CHAIN_NAMESPACE = uuid.UUID("0d8f4f5e-3c61-4b5a-9a1e-6b1f2f3a7c25")


@dataclass(frozen=True, order=True)
class Place:
    account: str
    size: VmSize

    def figures(self) -> dict:
        return {"account": self.account, "size": self.size.value}


def capacity_failed(session: Session | None) -> bool:
    """ARR ended the session in Error because the region had no server of its size."""
    if session is None or session.status is not SessionStatus.ERROR:
        return False
    return session.error_code == ARR_CAPACITY_CODE or ARR_CAPACITY_TEXT in (session.message or "").lower()


def accounts_for(policy: ProjectPolicy, regions: Iterable[str] = ()) -> tuple[str, ...]:
    """The project's accounts in order, narrowed and reordered by the client's `regions`."""
    allowed = policy.accounts
    regions = tuple(regions)
    for index, name in enumerate(regions):
        if name not in allowed:
            raise bad_request(f"regions[{index}]", f"{name!r} is not in the project's placement ({', '.join(allowed)})")
    return regions or allowed


def candidates(policy: ProjectPolicy, size: VmSize, regions: Iterable[str] = ()) -> list[Place]:
    """Every place an attempt of `size` may go, in order: the asked size in each account, then
    (Standard with `sizeFallback: premium`) Premium in each."""
    accounts = accounts_for(policy, regions)
    places = [Place(account, size) for account in accounts]
    if size is VmSize.STANDARD and policy.size_fallback is SizeFallback.PREMIUM:
        places += [Place(account, VmSize.PREMIUM) for account in accounts]
    return places


def is_fallback(place: Place, asked: VmSize) -> bool:
    return place.size is not asked


def recent(failed_at: datetime | None, now: datetime, window: timedelta) -> bool:
    return failed_at is not None and now - failed_at < window


def free(places: list[Place], failures: Mapping[Place, datetime], now: datetime, window: timedelta) -> list[Place]:
    """The places with no capacity failure within the window, in order."""
    return [place for place in places if not recent(failures.get(place), now, window)]


def order(
    places: list[Place], asked: VmSize, failures: Mapping[Place, datetime], now: datetime, window: timedelta
) -> list[Place]:
    """Where a request tries, in turn: the free places; when none of them is of the asked size, then
    the asked size where its failure is oldest (a fallback refused for the budget leads there too)."""
    tried = free(places, failures, now, window)
    if any(place.size is asked for place in tried):
        return tried
    # every place of the asked size failed within the window, so each has a time
    oldest = min((place for place in places if place.size is asked), key=lambda place: failures[place])
    return [*tried, oldest]


def next_place(
    places: list[Place], asked: VmSize, failures: Mapping[Place, datetime], now: datetime, window: timedelta
) -> Place:
    """The place the next attempt would use now (what `retry.next` says), budget aside."""
    return order(places, asked, failures, now, window)[0]


def next_attempt_id(project: str, plan: RetryPlan) -> str | None:
    """The id of the attempt after `plan`'s; None once a request has had its attempts. Derived, so
    two instances (or a poll and the sweep) starting it at once start one attempt, not two."""
    attempt = plan.attempt + 1
    if attempt >= MAX_ATTEMPTS:
        return None
    if plan.idempotency_key:
        return session_id_for(project, plan.idempotency_key, attempt)
    return str(uuid.uuid5(_CHAIN_NAMESPACE, f"{project}/{plan.first}#{attempt}"))


def retries_itself(plan: RetryPlan) -> bool:
    """Whether the governor starts the attempt after one ARR ended for want of capacity: the request
    asked for autoRetry and its caller has not stopped it."""
    return plan.auto_retry and not plan.stopped


def stopped_by_caller(entry: LedgerEntry) -> bool:
    """The caller stopped this attempt's request: nothing follows it, not even a retry with its key,
    which gets the stopped attempt back as it would any stopped session."""
    return entry.plan is not None and entry.plan.stopped


def stopped_plan(plan: RetryPlan | None) -> RetryPlan | None:
    """What the caller's stop writes on the attempt's row, before ARR is asked, so that a poll, the
    sweep or a retry with the key starts no next attempt; None when there is nothing to mark: no
    next attempt could follow (neither autoRetry nor a key) or the row says so already."""
    if plan is None or plan.stopped or not (plan.auto_retry or plan.idempotency_key):
        return None
    return replace(plan, stopped=True)


def request_plan(request: SessionRequest, idempotency_key: str | None, attempt: int, first: str) -> RetryPlan:
    """What a request's attempt keeps for placement (its models only when autoRetry needs them)."""
    models = request.models if request.auto_retry else ()
    return RetryPlan(request.size, request.regions, request.auto_retry, models, idempotency_key, attempt, first)


def keeps_plan(plan: RetryPlan, place: Place) -> bool:
    """Whether an attempt's row keeps its plan: not when it would say nothing a poll or a retry
    needs (one size asked and run, no regions, no key, no automatic retry, the first attempt)."""
    return bool(plan.auto_retry or plan.regions or plan.idempotency_key or plan.attempt or place.size is not plan.size)


def plan_of(entry: LedgerEntry) -> RetryPlan:
    """The entry's plan, or what a row written without one implies: its own size, first attempt."""
    return entry.plan or RetryPlan(size=entry.size, first=entry.session_id)


def next_plan(plan: RetryPlan) -> RetryPlan:
    return RetryPlan(
        size=plan.size,
        regions=plan.regions,
        auto_retry=plan.auto_retry,
        models=plan.models,
        idempotency_key=plan.idempotency_key,
        attempt=plan.attempt + 1,
        first=plan.first,
    )
