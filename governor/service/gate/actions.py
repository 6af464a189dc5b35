"""What a caller does to a session it holds: connect, heartbeat, extend and stop. Each acts on the
attempt the id leads to (`_acting_on`)."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta

from governor.core.model import (
    AuditRecord,
    CallerRef,
    LedgerEntry,
    LedgerState,
    Period,
    ProjectPolicy,
    SavingKind,
    Session,
    SessionStatus,
    Usage,
    money_text,
    whole_minutes,
)
from governor.core.policy import gate as rules
from governor.core.policy import placement
from governor.core.policy.extension import APPLIED, REFUSED, Extension, failed_update, refused_step_saving
from governor.service.gate.attempts import entry_of, next_entry
from governor.service.gate.base import Caller, Gate, Identity, list_key, session_key, upstream
from governor.service.gate.views import connect_view, elapsed_of
from governor.service.ports import NotFound, Refusal, Unavailable

log = logging.getLogger(__name__)


def _acting_on(
    gate: Gate, who: Identity, project: str, session_id: str, open_only: bool = False
) -> tuple[LedgerEntry, str]:
    """The entry an action works on and its id: the attempt that replaced the one asked for after a
    capacity failure, if any, which the caller must be allowed to act on."""
    entry = entry_of(gate, project, session_id, open_only)
    who.may_act_on(entry)
    return entry, entry.session_id


def connect(gate: Gate, project: str, caller: Caller, session_id: str) -> dict:
    """What a client app needs to connect to its Ready session: the account, domains, host,
    ports and a token from the connect identity (which can read and connect, not start)."""
    _, who = gate.authenticate(project, caller)
    entry, session_id = _acting_on(gate, who, project, session_id)
    session, _ = gate.seen(entry)
    if session is None and entry.state is LedgerState.PENDING:
        status = SessionStatus.STARTING  # made, its activation not written yet, or ARR has not listed it
    elif session is None:
        status = entry.final_status or SessionStatus.STOPPED
    else:
        status = session.status
    if entry.state is LedgerState.CLOSED or status.terminal:
        raise Refusal("session-ended", f"the session is {status.value}", {"sessionStatus": status.value})
    if session is None or status is not SessionStatus.READY:
        figures = {"sessionStatus": status.value, "retryAfter": rules.NOT_READY_RETRY_SECONDS}
        raise Refusal("not-ready", f"the session is {status.value}; connect once it is Ready", figures)
    client = gate.client(entry.account)
    token = client.connect_token(session.remaining_lease)
    target = client.connect_target
    gate.audit(project, session_id, "connect", target.auth, {"connectAuth": target.auth}, gate.clock(), who.name)
    return connect_view(target, session, token)


# ---------------------------------------------------------------- heartbeat and extend
def heartbeat(gate: Gate, project: str, caller: Caller, session_id: str) -> dict:
    policy, who = gate.authenticate(project, caller)
    entry, session_id = _acting_on(gate, who, project, session_id, open_only=True)
    try:
        session = gate.live(entry)
    except Exception:
        # ARR unreadable: still record the heartbeat, without ARR's elapsed (the sweep then
        # measures this heartbeat's age on the governor's clock), and answer the ARR error.
        gate.store.heartbeat(project, session_id, gate.clock())
        raise
    gate.reads.saw(session_key(entry.account, session_id), session)
    if entry.state is LedgerState.PENDING and session is not None:
        gate.store.activate(project, session_id, session)  # ARR runs it: the row says so from now
    now = gate.clock()
    elapsed = None if session is None else session.elapsed
    entry = gate.store.heartbeat(project, session_id, now, elapsed)
    usage = gate.current_usage(policy, now)
    view = gate.view(policy, entry, session, usage)
    if session is not None and session.status.terminal:
        outlook = {"wouldGrant": False, "reason": "extension-denied", "suggest": False}
    else:
        outlook = rules.extension_outlook(policy, entry, elapsed_of(entry, session), usage, now)
    return {**view, "extension": outlook}


def extend(gate: Gate, project: str, caller: Caller, session_id: str, body) -> dict:
    policy, who = gate.authenticate(project, caller)
    requested = rules.parse_extend_request(body)
    entry, session_id = _acting_on(gate, who, project, session_id, open_only=True)
    if entry.state is not LedgerState.ACTIVE:
        confirmed = _confirmed(gate, entry)
        if confirmed is None:
            raise Refusal("extension-denied", "the session is still being created", {"limit": "not-active"})
        entry = confirmed
    arr = gate.client(entry.account)
    try:
        session = arr.get(session_id)
    except NotFound:
        raise Refusal("not-found", f"ARR no longer knows session {session_id!r}") from None
    gate.reads.saw(session_key(entry.account, session_id), session)
    if session.status.terminal:
        raise Refusal("extension-denied", f"the session is {session.status.value}", {"limit": "terminal"})
    now = gate.clock()
    previous = entry.lease
    granted: list[Extension] = []

    # The session's own caller's budget bounds its extension, whoever asks (its money). The round
    # decides by the project row it reads and that caller's limits by it: it may run seconds after
    # this request authenticated (ARR's answer above, ETag retries), and a step, cap or limit
    # lowered meanwhile must hold.
    def decide(current: LedgerEntry, usage: dict[Period, Usage], caller=None, **round_) -> timedelta:
        extension = rules.decide_extension(
            round_["policy"], current, session.elapsed, usage, requested, now, round_["limits"], caller
        )
        granted.append(extension)
        return extension.lease

    owner = CallerRef(entry.caller) if entry.caller else None
    try:
        entry, usage = gate.store.extend(project, session_id, decide, now, by_round=True, who=owner)
    except Refusal as refusal:
        gate.audit(project, session_id, "refuse", refusal.reason, refusal.figures, now, who.name)
        save_refused_extension(gate, policy, entry, refusal.figures.get("limit"), now)
        raise
    figures = {"leaseMinutes": whole_minutes(entry.lease)}
    intent = None
    if session.max_lease < entry.lease:
        intent = gate.intent(project, session_id, "extend", "granted", figures, now, who.name)
        try:
            session = arr.update_lease(session_id, entry.lease)
        except Exception as exc:
            session = _after_failed_update(gate, arr, entry, previous, intent, exc)
        gate.reads.saw(session_key(entry.account, session_id), session)
    extension = granted[-1]
    if intent is None:  # ARR already held the lease: nothing was asked of it
        gate.audit(project, session_id, "extend", "granted", figures, now, who.name)
    else:
        gate.finish(intent, {})
    return {
        **gate.view(policy, entry, session, usage),
        "extraCost": money_text(extension.extra_cost),
        "partial": extension.partial,
    }


def _confirmed(gate: Gate, entry: LedgerEntry) -> LedgerEntry | None:
    """A pending row whose session ARR reports is active (its activation may not be written
    yet): write it now and return it; None if ARR has no such session or cannot say."""
    try:
        session = gate.live(entry)
    except Exception:
        return None
    if session is None:
        return None
    return gate.store.activate(entry.project, entry.session_id, session)


def save_refused_extension(
    gate: Gate, policy: ProjectPolicy, entry: LedgerEntry, limit: str | None, now: datetime
) -> None:
    """Record what a refusal for `limit` saved (`refused_step_saving`: the sweep's refusals
    record the same kind, so the two never add up twice)."""
    amount = refused_step_saving(limit, entry.rate, policy, entry.saved_extension)
    if not amount:
        return
    try:
        gate.store.save(policy.name, entry.session_id, SavingKind.EXTENSION, amount, now)
    except Exception:  # the refusal stands; only the figure is missing
        log.warning("could not record the saving of a refused extension of %s", entry.session_id)


def _after_failed_update(
    gate: Gate, arr, entry: LedgerEntry, previous: timedelta, intent: AuditRecord, error: Exception
) -> Session:
    """ARR's session when it holds the lease after all; else raises. The reservation goes back only
    when ARR refused the lease for certain; otherwise ARR may still apply it (a PATCH that timed out
    can land later) and a lease nobody pays for could run: it stays reserved, the audit row stays
    "unknown", and the sweep re-applies the ledger's lease or finds ARR holds it."""
    seen = _lease_seen(arr, entry.session_id)
    outcome = failed_update(error, None if seen is None else seen.max_lease, entry.lease)
    if outcome == APPLIED:
        assert seen is not None, "applied is judged from ARR's session"
        return seen
    if outcome == REFUSED:
        log.warning("ARR refused the lease update of %s; giving the reservation back", entry.session_id)
        gate.store.revert_extension(entry.project, entry.session_id, previous, gate.clock(), extended_to=entry.lease)
        gate.finish(intent, {"error": "refused"}, outcome="failed")
        raise error
    if seen is None and not isinstance(error, Unavailable):
        raise error  # ARR cannot be read either: its own answer (a 404 says the session is gone)
    retry = (error.retry_after if isinstance(error, Unavailable) else None) or 30
    minutes = whole_minutes(entry.lease)
    detail = (
        f"ARR did not confirm the lease of {minutes} min; it stays reserved while the governor finds out what ARR did"
    )
    raise upstream(detail, int(retry)) from error


def _lease_seen(arr, session_id: str) -> Session | None:
    """ARR's session after a failed lease update, or None when ARR cannot say."""
    try:
        return arr.get(session_id)
    except Exception:
        return None


# ---------------------------------------------------------------- stop
def stop(gate: Gate, project: str, caller: Caller, session_id: str) -> dict:
    policy, who = gate.authenticate(project, caller)
    entry, _ = _acting_on(gate, who, project, session_id)
    now = gate.clock()
    entry = _stop_attempt(gate, project, who.name, entry, now)
    # a poll, the sweep or a keyed retry may have reserved the next attempt before the mark landed;
    # looked for after it (`placement.abandoned` is the other half): that attempt is stopped too
    for _ in range(rules.MAX_ATTEMPTS):
        following = next_entry(gate, entry) if placement.stopped_by_caller(entry) else None
        if following is None:
            break
        entry = _stop_attempt(gate, project, who.name, following, now)
    return gate.view(policy, entry, None, gate.current_usage(policy, now))


def _stop_attempt(gate: Gate, project: str, caller: str | None, entry: LedgerEntry, now: datetime) -> LedgerEntry:
    """Stop one attempt of a request for its caller: mark the request stopped, then stop the
    session in ARR and close its row at ARR's minutes (or give a reservation ARR made nothing
    for back). The entry as it ends."""
    session_id = entry.session_id
    if placement.stopped_plan(entry.plan) is not None:
        # before ARR is asked, so no poll, sweep or keyed retry starts the next attempt of a request
        # its caller ended, even one ARR had already ended for capacity, or if this request dies
        entry = gate.store.stop_request(project, session_id) or entry
    if entry.state is not LedgerState.CLOSED:
        arr = gate.client(entry.account)
        # an ARR error leaves the row "unknown": the next sweep judges it by what ARR lists
        intent = gate.intent(project, session_id, "stop", "caller", {}, now, caller)
        with contextlib.suppress(NotFound):
            arr.stop(session_id)
        try:
            final = arr.get(session_id)
            minutes, status = whole_minutes(final.elapsed), final.status
        except NotFound:
            final, minutes, status = None, entry.charged_minutes, SessionStatus.STOPPED
        gate.reads.forget(session_key(entry.account, session_id), list_key(entry.account))
        if status.active:
            status = SessionStatus.STOPPED
        if entry.state is LedgerState.PENDING and final is not None:
            # ARR ran it: the row is active whether or not its activation was written yet
            gate.store.activate(project, session_id, final)
        if entry.state is LedgerState.PENDING and final is None:
            gate.store.release(project, session_id, now)
            entry = gate.store.get_entry(project, session_id) or entry
        else:  # at ARR's answer: its count may include minutes after a midnight its retries crossed
            entry = gate.store.close(project, session_id, minutes, status.value, gate.clock(), gate.arr_time_scale)
        gate.finish(intent, {"minutes": minutes, "charged": entry.charged})
    return entry
