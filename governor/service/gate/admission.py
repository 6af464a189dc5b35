"""Admission: a session request reserved, then created in ARR under the reservation's id; and the
recovery of a create that failed or was repeated (Idempotency-Key retries, v1's claims).

Every "no" is a `Refusal`; ARR and storage errors propagate (the HTTP layer turns them into 503s)
after the money is back where it belongs.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import replace
from datetime import datetime

from governor.core.model import (
    PENDING_GRACE,
    LedgerEntry,
    LedgerState,
    ProjectPolicy,
    Session,
    SessionStatus,
    made_before,
    money_text,
    whole_minutes,
)
from governor.core.policy import gate as rules
from governor.core.policy import placement
from governor.service.gate.base import Caller, Gate, Identity, list_key, session_key
from governor.service.gate.placement import (
    Attempt,
    abandoned,
    failed_for_capacity,
    places_for,
    remembered_failures,
    reserve_at,
    settle_capacity,
)
from governor.service.ports import ArrPort, Conflict, NotFound, Refusal, ServiceError, Unavailable

log = logging.getLogger(__name__)


def attempts_spent() -> Refusal:
    return Refusal(
        "conflict", f"{rules.MAX_ATTEMPTS} attempts with this Idempotency-Key made no session; use a new key"
    )


def in_flight() -> Refusal:
    """The IETF Idempotency-Key draft: a repeat while the first request is being processed is a 409
    that says when to retry (with the same key)."""
    return Refusal(
        "conflict",
        "the first request with this Idempotency-Key is still in progress; retry it with the same key",
        {"retryAfter": rules.IN_FLIGHT_RETRY_SECONDS},
    )


def request_session(gate: Gate, project: str, caller: Caller, body, idempotency_key: str | None = None) -> dict:
    policy, who = gate.authenticate(project, caller)
    request = asked = rules.parse_session_request(body)
    rules.check_request(policy, request)
    places = places_for(gate, policy, request.size, request.regions)
    gate.client(places[0].account)
    now = gate.clock()
    # The id is shared by the ledger row and the ARR PUT, so a crash in between leaves no orphan;
    # a client retry with the same Idempotency-Key finds its first session instead of a second one.
    session_id, attempt = str(uuid.uuid4()), 0
    if idempotency_key:
        for _ in range(rules.MAX_ATTEMPTS):
            session_id, attempt, existing = _attempt(gate, project, who, idempotency_key, now, request)
            if existing is None:
                break
            answer = _replay(gate, policy, request, existing)
            if answer is not None:
                return answer  # else that attempt just failed for capacity: the next one starts here
        else:
            raise attempts_spent()
    # after the replay: a retry of an admitted request is answered even once closing time has passed
    try:
        request, partial = rules.cap_at_closing(policy, request, now)
    except Refusal as refusal:
        gate.audit(project, "-", "refuse", refusal.reason, refusal.figures, now, who.name)
        raise
    failures = remembered_failures(gate, project, places)
    tries = placement.order(places, request.size, failures, now, gate.capacity_window)
    attempt_of = Attempt(
        session_id,
        plan=placement.request_plan(request, idempotency_key, attempt, first=session_id),
        request_hash=asked.fingerprint() if idempotency_key else None,  # as sent: a retry sends it again
        working_since=now if idempotency_key else None,
    )
    try:
        entry, usage = reserve_at(gate, policy, who, request, tries, attempt_of, now, fresh=not idempotency_key)
    except Conflict:
        if not idempotency_key:
            raise
        raise in_flight() from None  # a repeat that raced the first request for its ledger row
    if attempt and idempotency_key:
        previous = rules.session_id_for(project, idempotency_key, attempt - 1)
        if abandoned(gate, project, previous, entry.session_id, now):
            raise in_flight()  # its caller stopped the request meanwhile: the repeat then replays the stop
    # No audit row for an admission: the ledger row is its record (and a write per request is costly).
    arr = gate.client(entry.account)
    answer = _start(gate, policy, arr, request, entry, usage, partial=partial)
    if attempt and idempotency_key and abandoned(gate, project, entry.session_id):
        # a stop that resolved the request to this attempt marked it while ARR made it (and gave its
        # row back before ARR had it; the activation rode blind on this store's reservation): end
        # what ARR made; failing that, the sweep stops a session its row closed. The next retry
        # replays the stop.
        with contextlib.suppress(Exception):
            arr.stop(entry.session_id)
        gate.forget_reads(entry)
        raise in_flight()
    return answer


def _start(gate: Gate, policy: ProjectPolicy, arr: ArrPort, request, entry: LedgerEntry, usage, **extra) -> dict:
    """Create the reserved session in ARR and activate its row; the answer for the client."""
    entry, session = launch(gate, arr, entry, request.models)
    return {**gate.view(policy, entry, session, usage), "reservedCost": money_text(entry.reserved), **extra}


def launch(gate: Gate, arr: ArrPort, entry: LedgerEntry, models) -> tuple[LedgerEntry, Session]:
    """Create the reserved session in ARR and activate its row."""
    project = entry.project
    session = _create(gate, arr, entry, models)
    if not session.status.active and made_before(session, entry):
        _release(gate, project, entry.session_id)
        raise rules.key_archived(entry.session_id)
    try:
        # ARR made it under our id: the pending row already names it, so the activation
        # write need not hold up the answer (it rides the project's next transaction).
        entry = gate.store.activate(project, entry.session_id, session, wait=False)
    except Exception:
        log.exception("recording ARR session failed; stopping it so nothing runs unbudgeted")
        _undo_create(gate, arr, project, entry.session_id, session.id)
        raise
    gate.reads.saw(session_key(entry.account, session.id), session)
    gate.reads.forget(list_key(entry.account))
    return entry, session


# ---------------------------------------------------------------- a repeat with the Idempotency-Key
def _attempt(
    gate: Gate, project: str, who: Identity, key: str, now: datetime, request: rules.SessionRequest
) -> tuple[str, int, LedgerEntry | None]:
    """The id this key's request works on, its index, and its row if the key was used before. An
    attempt that made nothing (released, a v1 claim the sweep settles, or ended for want of
    capacity) is followed by a fresh one, unless its caller stopped the request."""
    for attempt in range(rules.MAX_ATTEMPTS):
        session_id = rules.session_id_for(project, key, attempt)
        entry = gate.store.get_entry(project, session_id)
        if entry is None:
            return session_id, attempt, None
        who.may_repeat(entry)
        rules.check_same_request(entry.request_hash, request)
        if placement.stopped_by_caller(entry):
            return session_id, attempt, entry
        if entry.released or _made_nothing(gate, entry, now):
            continue
        return session_id, attempt, entry
    raise attempts_spent()


def _made_nothing(gate: Gate, entry: LedgerEntry, now: datetime) -> bool:
    if entry.state is LedgerState.PENDING:
        return _v1_done(gate.client(entry.account), entry, now)
    return failed_for_capacity(gate, entry)


def _v1_done(arr: ArrPort, entry: LedgerEntry, now: datetime) -> bool:
    """A pending v1 row whose request is over: claimed, or older than any request lasts."""
    return not arr.ids_are_ours and (entry.claim or now - entry.requested_at > PENDING_GRACE)


def _replay(gate: Gate, policy: ProjectPolicy, request, entry: LedgerEntry) -> dict | None:
    """The first request's outcome for a retry with its Idempotency-Key; None when that attempt
    turns out to have failed for capacity (settled now: the retry starts the next one)."""
    arr = gate.client(entry.account)
    if entry.state is LedgerState.PENDING:
        if not arr.ids_are_ours:
            raise in_flight()
        found = _read_back(arr, entry, None)
        if found is None and placement.stopped_by_caller(entry):
            # its caller's stop marked it and ended before giving it back: nothing is to start now
            entry = _give_back_stopped(gate, entry)
        elif found is None:  # ARR has nothing yet: the first request may be about to create it
            entry = _take_over(gate, entry)
            usage = gate.current_usage(policy, gate.clock())
            return _start(gate, policy, arr, request, entry, usage, partial=False, replayed=True)
        elif found.status.active and placement.stopped_by_caller(entry):
            entry, found = _finish_stop(gate, arr, entry), None
        elif found.status.active:
            entry = gate.store.activate(policy.name, entry.session_id, found)
        elif placement.capacity_failed(found):
            settle_capacity(gate, policy, entry, found)
            return None
        else:
            entry, found = _close_ended(gate, entry, found), None
    else:
        found = gate.live(entry)
        if found is not None and placement.capacity_failed(found):
            settle_capacity(gate, policy, entry, found)
            return None
    view = gate.view(policy, entry, found, gate.current_usage(policy, gate.clock()))
    return {**view, "reservedCost": money_text(entry.reserved), "replayed": True}


def _give_back_stopped(gate: Gate, entry: LedgerEntry) -> LedgerEntry:
    """A pending attempt its caller stopped, which ARR has not made: its reservation goes back, once
    the request working on it has answered or died (until then it may still create: 409)."""
    now = gate.clock()
    if rules.still_working(entry.working_since, now):
        raise in_flight()
    gate.store.release(entry.project, entry.session_id, now)
    return gate.store.get_entry(entry.project, entry.session_id) or entry


def _take_over(gate: Gate, entry: LedgerEntry) -> LedgerEntry:
    """This repeat becomes the attempt on the pending row: only once the request working on it
    has answered or died, and only one of several repeats (ETag). Otherwise 409, as the
    Idempotency-Key draft says, and never a second create beside the first."""
    now = gate.clock()
    if rules.still_working(entry.working_since, now):
        raise in_flight()
    taken = gate.store.mark_working(entry.project, entry.session_id, now, etag=entry.etag)
    if taken is None:
        raise in_flight()
    return taken


def _answered(gate: Gate, entry: LedgerEntry) -> None:
    """The request leaves its row pending and answers: a repeat may resume it at once."""
    if entry.working_since is None:
        return
    try:
        gate.store.mark_working(entry.project, entry.session_id, None)
    except Exception:
        log.warning("could not mark %s as answered; a repeat resumes it after the window", entry.session_id)


# ---------------------------------------------------------------- the create, and what a failed one leaves
def _create(gate: Gate, arr: ArrPort, entry: LedgerEntry, models) -> Session:
    try:
        session = arr.create(entry.size, entry.lease, models, session_id=entry.session_id)
        if not arr.ids_are_ours and arr.create_repeated():
            _claim_repeats(gate, entry)
        return session
    except Exception as exc:
        # Whatever the error and whichever attempt of the client's retries it came from, an
        # earlier attempt may have created the session: find out before giving money back.
        if not arr.ids_are_ours:
            _claim(gate, entry, exc)
            raise
        try:
            found = _read_back(arr, entry, exc)
        except Refusal:
            _answered(gate, entry)
            raise
        if found is None:
            _release(gate, entry.project, entry.session_id)
            raise
        if not found.status.active:
            if made_before(found, entry):  # ARR refused to make it again (other settings)
                _release(gate, entry.project, entry.session_id)
                raise rules.key_archived(entry.session_id) from exc
            _close_ended(gate, entry, found)
            raise
        return found  # the create did happen: the caller activates it, as for a success


def _read_back(arr: ArrPort, entry: LedgerEntry, error: Exception | None) -> Session | None:
    """ARR's session under the pending row's id, None if ARR has none. Unreadable: the row stays
    pending for the sweep, and the client gets a 503 naming the session, so a retry with the
    same Idempotency-Key resumes it."""
    try:
        return arr.get(entry.session_id)
    except NotFound:
        return None
    except Exception:
        log.warning("ARR cannot say whether session %s was made; left pending", entry.session_id)
        retry = (error.retry_after if isinstance(error, Unavailable) else None) or 30
        raise Refusal(
            "upstream-unavailable",
            "ARR failed and could not say whether the session was made; retry with the same Idempotency-Key",
            {"sessionId": entry.session_id, "retryAfter": retry},
        ) from error


def _finish_stop(gate: Gate, arr: ArrPort, entry: LedgerEntry) -> LedgerEntry:
    """A pending attempt its caller's stop marked, which ARR runs: the stop ended before asking ARR
    (its gate died), so a retry with the key finishes it rather than replay a session its caller
    stopped. Charged at ARR's minutes, as the stop would have."""
    with contextlib.suppress(NotFound):
        arr.stop(entry.session_id)
    final = _read_back(arr, entry, None)
    minutes = whole_minutes(final.elapsed) if final is not None else entry.charged_minutes
    status = final.status if final is not None and not final.status.active else SessionStatus.STOPPED
    if final is not None:
        entry = gate.store.activate(entry.project, entry.session_id, final)
    closed = gate.store.close(entry.project, entry.session_id, minutes, status.value, gate.clock(), gate.arr_time_scale)
    figures = {"minutes": minutes, "charged": closed.charged}
    gate.audit(entry.project, entry.session_id, "stop", "caller", figures, gate.clock(), entry.caller)
    return closed


def _close_ended(gate: Gate, entry: LedgerEntry, final: Session) -> LedgerEntry:
    """The create happened and the session already ended: charge ARR's billed minutes, release the rest."""
    if placement.capacity_failed(final):
        return settle_capacity(gate, None, entry, final)
    minutes = whole_minutes(final.elapsed)
    closed = gate.store.close(
        entry.project, entry.session_id, minutes, final.status.value, gate.clock(), gate.arr_time_scale
    )
    figures = {"status": final.status.value, "minutes": minutes, "charged": closed.charged}
    gate.audit(entry.project, entry.session_id, "close", "create-ended", figures, gate.clock(), entry.caller)
    return closed


def _claim(gate: Gate, entry: LedgerEntry, error: Exception) -> None:
    """v1: ARR picks the id, so it cannot be read back; the pending row becomes a claim that
    the sweep matches to the sessions the create may have made, and stops them."""
    if isinstance(error, ServiceError) and error.never_sent:
        _release(gate, entry.project, entry.session_id)
        return
    try:
        gate.store.claim(entry.project, entry.session_id)
    except Exception:
        log.warning("could not mark %s as a claim; the sweep claims it after the grace", entry.session_id)


def _claim_repeats(gate: Gate, entry: LedgerEntry) -> None:
    """v1: the create succeeded on a retry after ARR had answered an earlier attempt, which may
    have made a session nobody holds. A claim with nothing reserved (what it finds is charged
    from its start when matched) lets the sweep stop it; the session made here keeps its row."""
    claim = replace(entry, session_id=str(uuid.uuid4()), claim=True, reserved=0, etag=None)
    try:
        gate.store.reserve(entry.project, claim, lambda snapshot: 0, entry.requested_at)
    except Exception:
        log.warning("could not record the claim of a repeated create; its duplicate is left to the sweep")


def _undo_create(gate: Gate, arr: ArrPort, project: str, reservation_id: str, arr_id: str) -> None:
    """Stop the ARR session, then release; if the stop fails, the pending row stays for the sweep."""
    try:
        arr.stop(arr_id)
    except NotFound:
        pass
    except Exception:
        log.warning("could not stop ARR session %s; the sweep will reconcile it", arr_id)
        return
    _release(gate, project, reservation_id)


def _release(gate: Gate, project: str, reservation_id: str) -> None:
    try:
        gate.store.release(project, reservation_id, gate.clock())
    except Exception:
        log.warning("could not release reservation %s; the sweep will reconcile it", reservation_id)
