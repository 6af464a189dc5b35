"""The gate's use cases: request, read, heartbeat, extend and stop sessions; a project's usage.

Composed from the ports (store, ARR clients) and an injected clock. Every "no" is a
`Refusal`; ARR and storage errors propagate (the HTTP layer turns them into 503s) after
this layer has put the money back where it belongs.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from governor.core.model import (
    PENDING_GRACE,
    AuditRecord,
    CallerLimits,
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
from governor.core.policy.callers import PRINCIPAL_PREFIX, PROJECT_ROW_SECONDS, PROJECT_SCOPE
from governor.core.policy.extension import Extension, refused_step_saving
from governor.service import audit
from governor.service.arr_reads import ArrReads
from governor.service.gate_placement import DEFAULT_CAPACITY_WINDOW, Attempt, GatePlacement
from governor.service.ports import ArrPort, Conflict, GateStore, NotFound, Refusal
from governor.service.views import (
    budget_view,
    callers_view,
    connect_view,
    elapsed_of,
    placement_usage_view,
    session_view,
    usage_view,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """Who calls: a per-project key and/or the Entra principal ids App Service vouched for."""

    key: str | None = field(default=None, repr=False)
    principals: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Identity:
    """Whom a verified caller acts as: a key's name or "principal:<id>", and its own limits."""

    name: str | None = None
    limits: CallerLimits | None = None
    project_wide: bool = False  # may act on every session of the project, not only those it started

    @property
    def limited(self) -> bool:
        return self.limits is not None and not self.limits.empty

    def sees(self, entry: LedgerEntry) -> bool:
        """A key sees (lists, reads, acts on) only the sessions it started, unless the manage API gave
        it the project."""
        return self.project_wide or entry.caller == self.name

    def may_act_on(self, entry: LedgerEntry) -> None:
        if not self.sees(entry):
            raise Refusal(
                "forbidden",
                "this key may act only on the sessions it started (a key with scope project may act on all)",
                {"limit": "scope"},
            )


def upstream(detail: str, retry_after: int = 30) -> Refusal:
    return Refusal("upstream-unavailable", detail, {"retryAfter": retry_after})


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


def session_key(account: str, session_id: str) -> tuple:
    return ("session", account, session_id)


def list_key(account: str) -> tuple:
    return ("list", account)


class GateService(GatePlacement):
    """`reads`: the instance's cache of ARR reads (`Context.reads`); without one every read calls ARR.
    `arr_time_scale` turns durations on ARR's clock into the real seconds of hints to clients.
    `capacity_window`: GOVERNOR_CAPACITY_WINDOW_MINUTES. `source`: what its audit rows say did it (the
    sweep starts autoRetry's next attempts through this service too). `notify(policy, payload)`: sends
    a project's webhook event (placement and capacity; None: none are sent)."""

    def __init__(
        self,
        store: GateStore,
        arr: Mapping[str, ArrPort],
        clock: Callable[[], datetime],
        reads: ArrReads | None = None,
        arr_time_scale: float = 1.0,
        capacity_window: timedelta = DEFAULT_CAPACITY_WINDOW,
        source: str = "gate",
        notify: Callable[[ProjectPolicy, dict], None] | None = None,
    ):
        self.store = store
        self.arr = arr
        self.clock = clock
        self.reads = reads if reads is not None else ArrReads(bound=0)
        self.arr_time_scale = arr_time_scale  # ARR seconds per real second: 1 but against a scaled emulator
        self.capacity_window = capacity_window
        self.source = source
        self.notify = notify

    # ------------------------------------------------------------ auth
    def authorize(self, project: str, caller: Caller) -> ProjectPolicy:
        """Project exists and is enabled, then the caller may act for it (key or principal)."""
        return self.authenticate(project, caller)[0]

    def authenticate(self, project: str, caller: Caller) -> tuple[ProjectPolicy, Identity]:
        """`authorize`, and whom the caller acts as (for its limits and the ledger's records)."""
        rules.check_project_name(project)
        policy = self.store.get_project(project, max_age=PROJECT_ROW_SECONDS)
        if policy is None:
            raise Refusal("unknown-project", f"no project named {project!r}")
        if not policy.enabled:
            raise Refusal("forbidden", "project is disabled")
        matched = caller.principals & {p.lower() for p in policy.principals} if caller.principals else set()
        if matched:
            principal = min(matched)
            return policy, Identity(PRINCIPAL_PREFIX + principal, policy.principal_limits.get(principal))
        if not caller.key:
            raise Refusal("unauthorized", "send the project's caller key in the X-Api-Key header")
        now = self.clock()
        key = self.store.find_key(project, caller.key, now)
        if key is None:
            raise Refusal("forbidden", "the caller key is not valid for this project (unknown, revoked or expired)")
        self.store.touch_key(project, key.name, now)
        return policy, Identity(key.name, key.limits, project_wide=key.scope == PROJECT_SCOPE)

    def _view(self, policy: ProjectPolicy, entry: LedgerEntry, session: Session | None, usage) -> dict:
        interval = rules.heartbeat_interval(policy.idle_timeout, self.arr_time_scale)
        return {**session_view(policy, entry, session, usage), "heartbeatIntervalSeconds": interval}

    def _identity_of(self, policy: ProjectPolicy, name: str | None) -> Identity:
        """Whom a session's own caller acts as, with its limits (an attempt started for it)."""
        return Identity(name, self._limits_of(policy, name, Identity()))

    def _forget_reads(self, entry: LedgerEntry) -> None:
        self.reads.forget(session_key(entry.account, entry.session_id), list_key(entry.account))

    def _notify(self, policy: ProjectPolicy | None, event: str, session_id: str, reason: str, figures: dict) -> None:
        """A webhook event of the gate's own (placement, capacity); never raises."""
        if self.notify is None or policy is None or not policy.webhook_url:
            return
        payload = {
            "event": event,
            "project": policy.name,
            "sessionId": session_id,
            "reason": reason,
            "figures": figures,
            "dryRun": False,
            "outcome": "ok",
            "at": self.clock().isoformat(),
        }
        try:
            self.notify(policy, payload)
        except Exception:
            log.warning("could not queue the %s webhook of %s", event, policy.name)

    def _client(self, account: str) -> ArrPort:
        client = self.arr.get(account)
        if client is None:
            raise upstream(f"ARR account {account!r} is not configured", retry_after=300)
        return client

    # ------------------------------------------------------------ request
    def request(self, project: str, caller: Caller, body, idempotency_key: str | None = None) -> dict:
        policy, who = self.authenticate(project, caller)
        request = rules.parse_session_request(body)
        rules.check_request(policy, request)
        places = self._places(policy, request.size, request.regions)
        self._client(places[0].account)
        now = self.clock()
        # The id is shared by the ledger row and the ARR PUT, so a crash in between leaves no orphan;
        # a client retry with the same Idempotency-Key finds its first session instead of a second one.
        session_id, attempt = str(uuid.uuid4()), 0
        if idempotency_key:
            for _ in range(rules.MAX_ATTEMPTS):
                session_id, attempt, existing = self._attempt(project, idempotency_key, now, request)
                if existing is None:
                    break
                answer = self._replay(policy, request, existing)
                if answer is not None:
                    return answer  # else that attempt just failed for capacity: the next one starts here
            else:
                raise attempts_spent()
        # after the replay: a retry of an admitted request is answered even once closing time has passed
        try:
            request, partial = rules.cap_at_closing(policy, request, now)
        except Refusal as refusal:
            self._audit(project, "-", "refuse", refusal.reason, refusal.figures, now, who.name)
            raise
        tries = placement.order(places, request.size, self._failures(project, places), now, self.capacity_window)
        attempt_of = Attempt(
            session_id,
            plan=placement.request_plan(request, idempotency_key, attempt, first=session_id),
            request_hash=request.fingerprint() if idempotency_key else None,
            working_since=now if idempotency_key else None,
        )
        try:
            entry, usage = self._reserve_at(policy, who, request, tries, attempt_of, now, fresh=not idempotency_key)
        except Conflict:
            if not idempotency_key:
                raise
            raise in_flight() from None  # a repeat that raced the first request for its ledger row
        # No audit row for an admission: the ledger row is its record (and a write per request is costly).
        return self._start(policy, self._client(entry.account), request, entry, usage, partial=partial)

    def _start(self, policy: ProjectPolicy, arr: ArrPort, request, entry: LedgerEntry, usage, **extra) -> dict:
        """Create the reserved session in ARR and activate its row; the answer for the client."""
        entry, session = self._launch(arr, entry, request.models)
        return {**self._view(policy, entry, session, usage), "reservedCost": money_text(entry.reserved), **extra}

    def _launch(self, arr: ArrPort, entry: LedgerEntry, models) -> tuple[LedgerEntry, Session]:
        """Create the reserved session in ARR and activate its row."""
        project = entry.project
        session = self._create(arr, entry, models)
        try:
            # ARR made it under our id: the pending row already names it, so the activation
            # write need not hold up the answer (it rides the project's next transaction).
            entry = self.store.activate(project, entry.session_id, session, wait=False)
        except Exception:
            log.exception("recording ARR session failed; stopping it so nothing runs unbudgeted")
            self._undo_create(arr, project, entry.session_id, session.id)
            raise
        self.reads.saw(session_key(entry.account, session.id), session)
        self.reads.forget(list_key(entry.account))
        return entry, session

    def _attempt(
        self, project: str, key: str, now: datetime, request: rules.SessionRequest
    ) -> tuple[str, int, LedgerEntry | None]:
        """The id this key's request works on, its index, and its row if the key was used before. An
        attempt that made nothing (released, a v1 claim the sweep settles, or ended for want of
        capacity) is followed by a fresh one."""
        for attempt in range(rules.MAX_ATTEMPTS):
            session_id = rules.session_id_for(project, key, attempt)
            entry = self.store.get_entry(project, session_id)
            if entry is None:
                return session_id, attempt, None
            rules.check_same_request(entry.request_hash, request)
            if entry.released or self._made_nothing(entry, now):
                continue
            return session_id, attempt, entry
        raise attempts_spent()

    def _made_nothing(self, entry: LedgerEntry, now: datetime) -> bool:
        if entry.state is LedgerState.PENDING:
            return self._v1_done(self._client(entry.account), entry, now)
        return self._failed_for_capacity(entry)

    @staticmethod
    def _v1_done(arr: ArrPort, entry: LedgerEntry, now: datetime) -> bool:
        """A pending v1 row whose request is over: claimed, or older than any request lasts."""
        return not arr.ids_are_ours and (entry.claim or now - entry.requested_at > PENDING_GRACE)

    def _replay(self, policy: ProjectPolicy, request, entry: LedgerEntry) -> dict | None:
        """The first request's outcome for a retry with its Idempotency-Key; None when that attempt
        turns out to have failed for capacity (settled now: the retry starts the next one)."""
        arr = self._client(entry.account)
        if entry.state is LedgerState.PENDING:
            if not arr.ids_are_ours:
                raise in_flight()
            found = self._read_back(arr, entry, None)
            if found is None:  # ARR has nothing yet: the first request may be about to create it
                entry = self._take_over(entry)
                usage = self._usage(policy, self.clock())
                return self._start(policy, arr, request, entry, usage, partial=False, replayed=True)
            if found.status.active:
                entry = self.store.activate(policy.name, entry.session_id, found)
            elif placement.capacity_failed(found):
                self._settle_capacity(policy, entry, found)
                return None
            else:
                entry, found = self._close_ended(entry, found), None
        else:
            found = self._live(entry)
            if found is not None and placement.capacity_failed(found):
                self._settle_capacity(policy, entry, found)
                return None
        view = self._view(policy, entry, found, self._usage(policy, self.clock()))
        return {**view, "reservedCost": money_text(entry.reserved), "replayed": True}

    def _take_over(self, entry: LedgerEntry) -> LedgerEntry:
        """This repeat becomes the attempt on the pending row: only once the request working on it
        has answered or died, and only one of several repeats (ETag). Otherwise 409, as the
        Idempotency-Key draft says, and never a second create beside the first."""
        now = self.clock()
        if rules.still_working(entry.working_since, now):
            raise in_flight()
        taken = self.store.mark_working(entry.project, entry.session_id, now, etag=entry.etag)
        if taken is None:
            raise in_flight()
        return taken

    def _answered(self, entry: LedgerEntry) -> None:
        """The request leaves its row pending and answers: a repeat may resume it at once."""
        if entry.working_since is None:
            return
        try:
            self.store.mark_working(entry.project, entry.session_id, None)
        except Exception:
            log.warning("could not mark %s as answered; a repeat resumes it after the window", entry.session_id)

    def _confirmed(self, entry: LedgerEntry) -> LedgerEntry | None:
        """A pending row whose session ARR reports is active (its activation may not be written
        yet): write it now and return it; None if ARR has no such session or cannot say."""
        try:
            session = self._live(entry)
        except Exception:
            return None
        if session is None:
            return None
        return self.store.activate(entry.project, entry.session_id, session)

    def _create(self, arr: ArrPort, entry: LedgerEntry, models) -> Session:
        try:
            session = arr.create(entry.size, entry.lease, models, session_id=entry.session_id)
            if not arr.ids_are_ours and arr.create_repeated():
                self._claim_repeats(entry)
            return session
        except Exception as exc:
            # Whatever the error and whichever attempt of the client's retries it came from, an
            # earlier attempt may have created the session: find out before giving money back.
            if not arr.ids_are_ours:
                self._claim(entry, exc)
                raise
            try:
                found = self._read_back(arr, entry, exc)
            except Refusal:
                self._answered(entry)
                raise
            if found is None:
                self._release(entry.project, entry.session_id)
                raise
            if not found.status.active:
                self._close_ended(entry, found)
                raise
            return found  # the create did happen: the caller activates it, as for a success

    def _read_back(self, arr: ArrPort, entry: LedgerEntry, error: Exception | None) -> Session | None:
        """ARR's session under the pending row's id, None if ARR has none. Unreadable: the row stays
        pending for the sweep, and the client gets a 503 naming the session, so a retry with the
        same Idempotency-Key resumes it."""
        try:
            return arr.get(entry.session_id)
        except NotFound:
            return None
        except Exception:
            log.warning("ARR cannot say whether session %s was made; left pending", entry.session_id)
            retry = getattr(error, "retry_after", None) or 30
            raise Refusal(
                "upstream-unavailable",
                "ARR failed and could not say whether the session was made; retry with the same Idempotency-Key",
                {"sessionId": entry.session_id, "retryAfter": retry},
            ) from error

    def _close_ended(self, entry: LedgerEntry, final: Session) -> LedgerEntry:
        """The create happened and the session already ended: charge ARR's billed minutes, release the rest."""
        if placement.capacity_failed(final):
            return self._settle_capacity(None, entry, final)
        minutes = whole_minutes(final.elapsed)
        closed = self.store.close(entry.project, entry.session_id, minutes, final.status.value, self.clock())
        figures = {"status": final.status.value, "minutes": minutes, "charged": closed.charged}
        self._audit(entry.project, entry.session_id, "close", "create-ended", figures, self.clock(), entry.caller)
        return closed

    def _claim(self, entry: LedgerEntry, error: Exception) -> None:
        """v1: ARR picks the id, so it cannot be read back; the pending row becomes a claim that
        the sweep matches to the sessions the create may have made, and stops them."""
        if getattr(error, "operation", None) == "validate":  # refused by our own checks: never sent
            self._release(entry.project, entry.session_id)
            return
        try:
            self.store.claim(entry.project, entry.session_id)
        except Exception:
            log.warning("could not mark %s as a claim; the sweep claims it after the grace", entry.session_id)

    def _claim_repeats(self, entry: LedgerEntry) -> None:
        """v1: the create succeeded on a retry after ARR had answered an earlier attempt, which may
        have made a session nobody holds. A claim with nothing reserved (what it finds is charged
        from its start when matched) lets the sweep stop it; the session made here keeps its row."""
        claim = replace(entry, session_id=str(uuid.uuid4()), claim=True, reserved=0, etag=None)
        try:
            self.store.reserve(entry.project, claim, lambda snapshot: 0, entry.requested_at)
        except Exception:
            log.warning("could not record the claim of a repeated create; its duplicate is left to the sweep")

    def _undo_create(self, arr: ArrPort, project: str, reservation_id: str, arr_id: str) -> None:
        """Stop the ARR session, then release; if the stop fails, the pending row stays for the sweep."""
        try:
            arr.stop(arr_id)
        except NotFound:
            pass
        except Exception:
            log.warning("could not stop ARR session %s; the sweep will reconcile it", arr_id)
            return
        self._release(project, reservation_id)

    def _release(self, project: str, reservation_id: str) -> None:
        try:
            self.store.release(project, reservation_id, self.clock())
        except Exception:
            log.warning("could not release reservation %s; the sweep will reconcile it", reservation_id)

    # ------------------------------------------------------------ reads
    def get(self, project: str, caller: Caller, session_id: str) -> dict:
        """Polled by apps until Ready: ARR is read through `reads` (shared, at most its bound old)."""
        policy, who = self.authenticate(project, caller)
        rules.check_session_id(session_id)
        entry, usage = self.store.entry_with_usage(project, session_id, self.clock(), policy)
        entry = self._found(entry, session_id)
        who.may_act_on(entry)
        session, age = self._seen(entry)
        # a poll that finds the attempt ended for want of capacity settles it, and with autoRetry
        # starts the next attempt: the id polled leads to the attempt that stands for it now
        current = self._resolve(policy, entry, session, age, start_next=True)
        if current.failed:
            usage = self._usage(policy, self.clock())
        view = self._view(policy, current.entry, current.session, usage)
        return {**view, **self._placement_view(policy, current), "arrViewAgeSeconds": current.age}

    def list(self, project: str, caller: Caller, include_closed: bool = False) -> dict:
        policy, who = self.authenticate(project, caller)
        entries = [e for e in self.store.list_entries(project, include_closed=include_closed) if who.sees(e)]
        live: dict[str, Session] = {}
        ages: dict[str, float] = {}
        for account in sorted({e.account for e in entries if e.state is not LedgerState.CLOSED}):
            client = self._client(account)
            seen = self.reads.read(list_key(account), client.list)
            live.update({s.id: s for s in seen.value})
            ages[account] = round(seen.age, 1)
        usage = self._usage(policy, self.clock())
        views = [
            {**self._view(policy, e, live.get(e.session_id), usage), "arrViewAgeSeconds": self._age_of(e, ages)}
            for e in entries
        ]
        return {"project": project, "sessions": views, **budget_view(policy, usage)}

    @staticmethod
    def _age_of(entry: LedgerEntry, ages: Mapping[str, float]) -> float | None:
        return None if entry.state is LedgerState.CLOSED else ages.get(entry.account)

    def _seen(self, entry: LedgerEntry) -> tuple[Session | None, float | None]:
        """ARR's view of an open entry's session through `reads`, and its age in seconds
        (None, None for a closed entry: ARR is not asked)."""
        if entry.state is LedgerState.CLOSED:
            return None, None
        seen = self.reads.read(session_key(entry.account, entry.session_id), lambda: self._live(entry))
        return seen.value, round(seen.age, 1)

    def _entry(self, project: str, session_id: str, open_only: bool = False) -> LedgerEntry:
        """The entry of `session_id`, or of the attempt that replaced it after a capacity failure."""
        rules.check_session_id(session_id)
        entry = self._found(self.store.get_entry(project, session_id), session_id)
        return self._found(self._latest_attempt(entry), session_id, open_only)

    @staticmethod
    def _found(entry: LedgerEntry | None, session_id: str, open_only: bool = False) -> LedgerEntry:
        if entry is None:
            raise Refusal("not-found", f"no session {session_id!r} in this project")
        if open_only and entry.state is LedgerState.CLOSED:
            raise Refusal("not-found", f"session {session_id!r} is closed")
        return entry

    def _live(self, entry: LedgerEntry) -> Session | None:
        if entry.state is LedgerState.CLOSED:
            return None
        try:
            return self._client(entry.account).get(entry.session_id)
        except NotFound:
            return None

    # ------------------------------------------------------------ connect
    def connect(self, project: str, caller: Caller, session_id: str) -> dict:
        """What a client app needs to connect to its Ready session: the account, domains, host,
        ports and a token from the connect identity (which can read and connect, not start)."""
        _, who = self.authenticate(project, caller)
        entry = self._entry(project, session_id)
        session_id = entry.session_id  # the attempt that replaced the one asked for, if any
        who.may_act_on(entry)
        session, _ = self._seen(entry)
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
        client = self._client(entry.account)
        token = client.connect_token(session.remaining_lease)
        target = client.connect_target
        self._audit(project, session_id, "connect", target.auth, {"connectAuth": target.auth}, self.clock(), who.name)
        return connect_view(target, session, token)

    # ------------------------------------------------------------ heartbeat and extend
    def heartbeat(self, project: str, caller: Caller, session_id: str) -> dict:
        policy, who = self.authenticate(project, caller)
        entry = self._entry(project, session_id, open_only=True)
        session_id = entry.session_id  # the attempt that replaced the one asked for, if any
        who.may_act_on(entry)
        try:
            session = self._live(entry)
        except Exception:
            # ARR unreadable: still record the heartbeat, without ARR's elapsed (the sweep then
            # measures this heartbeat's age on the governor's clock), and answer the ARR error.
            self.store.heartbeat(project, session_id, self.clock())
            raise
        self.reads.saw(session_key(entry.account, session_id), session)
        if entry.state is LedgerState.PENDING and session is not None:
            self.store.activate(project, session_id, session)  # ARR runs it: the row says so from now
        now = self.clock()
        elapsed = None if session is None else session.elapsed
        entry = self.store.heartbeat(project, session_id, now, elapsed)
        usage = self._usage(policy, now)
        view = self._view(policy, entry, session, usage)
        if session is not None and session.status.terminal:
            outlook = {"wouldGrant": False, "reason": "extension-denied", "suggest": False}
        else:
            outlook = rules.extension_outlook(policy, entry, elapsed_of(entry, session), usage, now)
        return {**view, "extension": outlook}

    def extend(self, project: str, caller: Caller, session_id: str, body) -> dict:
        policy, who = self.authenticate(project, caller)
        requested = rules.parse_extend_request(body)
        entry = self._entry(project, session_id, open_only=True)
        session_id = entry.session_id  # the attempt that replaced the one asked for, if any
        who.may_act_on(entry)
        if entry.state is not LedgerState.ACTIVE:
            confirmed = self._confirmed(entry)
            if confirmed is None:
                raise Refusal("extension-denied", "the session is still being created", {"limit": "not-active"})
            entry = confirmed
        arr = self._client(entry.account)
        try:
            session = arr.get(session_id)
        except NotFound:
            raise Refusal("not-found", f"ARR no longer knows session {session_id!r}") from None
        self.reads.saw(session_key(entry.account, session_id), session)
        if session.status.terminal:
            raise Refusal("extension-denied", f"the session is {session.status.value}", {"limit": "terminal"})
        now = self.clock()
        previous = entry.lease
        granted: list[Extension] = []

        # The session's own caller's budget bounds its extension, whoever asks (its money).
        limits = self._limits_of(policy, entry.caller, who)

        def decide(current: LedgerEntry, usage: dict[Period, Usage], caller=None) -> timedelta:
            extension = rules.decide_extension(
                policy, current, session.elapsed, usage, requested, now, caller_limits=limits, caller=caller
            )
            granted.append(extension)
            return extension.lease

        try:
            entry, usage = self.store.extend(project, session_id, decide, now, count_caller=limits is not None)
        except Refusal as refusal:
            self._audit(project, session_id, "refuse", refusal.reason, refusal.figures, now, who.name)
            self._save_refused_extension(policy, entry, refusal.figures.get("limit"), now)
            raise
        figures = {"leaseMinutes": whole_minutes(entry.lease)}
        intent = None
        if session.max_lease < entry.lease:
            intent = self._intent(project, session_id, "extend", "granted", figures, now, who.name)
            try:
                session = arr.update_lease(session_id, entry.lease)
            except Exception:
                # An error can come after ARR applied the lease (a 5xx or a timeout on the way
                # back): give the reservation back only when ARR is seen without it, or ARR runs a
                # lease nobody pays for. Unseen, it stays reserved; the sweep re-applies it and
                # completes the audit row, left "unknown".
                applied = self._lease_seen(arr, session_id)
                if applied is None:
                    raise
                if applied.max_lease < entry.lease:
                    log.warning("ARR refused the lease update of %s; giving the reservation back", session_id)
                    self.store.revert_extension(project, session_id, previous, self.clock())
                    self._finish(intent, {"error": "refused"}, outcome="failed")
                    raise
                session = applied
            self.reads.saw(session_key(entry.account, session_id), session)
        extension = granted[-1]
        if intent is None:  # ARR already held the lease: nothing was asked of it
            self._audit(project, session_id, "extend", "granted", figures, now, who.name)
        else:
            self._finish(intent, {})
        return {
            **self._view(policy, entry, session, usage),
            "extraCost": money_text(extension.extra_cost),
            "partial": extension.partial,
        }

    def _limits_of(self, policy: ProjectPolicy, name: str | None, who: Identity) -> CallerLimits | None:
        """The limits of the caller that started a session (None when it has none to keep)."""
        if name == who.name:
            limits = who.limits
        elif name and name.startswith(PRINCIPAL_PREFIX):
            limits = policy.principal_limits.get(name.removeprefix(PRINCIPAL_PREFIX))
        elif name:
            limits = next((key.limits for key in self.store.list_keys(policy.name) if key.name == name), None)
        else:
            limits = None
        return limits if limits is not None and not limits.empty else None

    def _save_refused_extension(
        self, policy: ProjectPolicy, entry: LedgerEntry, limit: str | None, now: datetime
    ) -> None:
        """Record what a refusal for `limit` saved (`refused_step_saving`: the sweep's refusals
        record the same kind, so the two never add up twice)."""
        amount = refused_step_saving(limit, entry.rate, policy, entry.saved_extension)
        if not amount:
            return
        try:
            self.store.save(policy.name, entry.session_id, SavingKind.EXTENSION, amount, now)
        except Exception:  # the refusal stands; only the figure is missing
            log.warning("could not record the saving of a refused extension of %s", entry.session_id)

    @staticmethod
    def _lease_seen(arr, session_id: str):
        """ARR's session after a failed lease update, or None when ARR cannot say."""
        try:
            return arr.get(session_id)
        except Exception:
            return None

    # ------------------------------------------------------------ stop
    def stop(self, project: str, caller: Caller, session_id: str) -> dict:
        policy, who = self.authenticate(project, caller)
        entry = self._entry(project, session_id)
        session_id = entry.session_id  # the attempt that replaced the one asked for, if any
        who.may_act_on(entry)
        now = self.clock()
        if entry.state is not LedgerState.CLOSED:
            arr = self._client(entry.account)
            # an ARR error leaves the row "unknown": the next sweep judges it by what ARR lists
            intent = self._intent(project, session_id, "stop", "caller", {}, now, who.name)
            with contextlib.suppress(NotFound):
                arr.stop(session_id)
            try:
                final = arr.get(session_id)
                minutes, status = whole_minutes(final.elapsed), final.status
            except NotFound:
                final, minutes, status = None, entry.charged_minutes, SessionStatus.STOPPED
            self.reads.forget(session_key(entry.account, session_id), list_key(entry.account))
            if status.active:
                status = SessionStatus.STOPPED
            if entry.state is LedgerState.PENDING and final is not None:
                # ARR ran it: the row is active whether or not its activation was written yet
                self.store.activate(project, session_id, final)
            if entry.state is LedgerState.PENDING and final is None:
                self.store.release(project, session_id, now)
                entry = self.store.get_entry(project, session_id) or entry
            else:
                entry = self.store.close(project, session_id, minutes, status.value, now)
            self._finish(intent, {"minutes": minutes, "charged": entry.charged})
        return self._view(policy, entry, None, self._usage(policy, now))

    # ------------------------------------------------------------ usage
    def usage(
        self, project: str, caller: Caller, day: str | None = None, month: str | None = None, by: str | None = None
    ) -> dict:
        policy = self.authorize(project, caller)
        now = self.clock()
        keys = {Period.DAY: day or Period.DAY.key(now), Period.MONTH: month or Period.MONTH.key(now)}
        usage = {period: self.store.usage(project, period, key) for period, key in keys.items()}
        entries = self.store.list_entries(project, include_closed=True)
        entries += self._history(project, entries, {keys[Period.MONTH], keys[Period.DAY][:7]})
        in_period = [e for e in entries if Period.DAY.key(e.requested_at) == keys[Period.DAY]]
        in_month = [e for e in entries if Period.MONTH.key(e.requested_at) == keys[Period.MONTH]]
        view = {
            "project": project,
            "currency": policy.currency,
            "periods": [usage_view(u) for u in usage.values()],
            "sessions": {
                "open": sum(e.state is not LedgerState.CLOSED for e in entries),
                "day": len(in_period),
                "month": len(in_month),
            },
            **budget_view(policy, usage),
        }
        day_start = datetime.fromisoformat(keys[Period.DAY]).replace(tzinfo=UTC)
        failures = self.store.capacity_failures_between(day_start, day_start + timedelta(days=1), project)
        view["placement"] = placement_usage_view(keys[Period.DAY], in_period, failures)
        if by == "key":
            spent = {period: self.store.caller_spent(project, period, key) for period, key in keys.items()}
            limits = {k.name: k.limits for k in self.store.list_keys(project)}
            limits |= {PRINCIPAL_PREFIX + p: lim for p, lim in policy.principal_limits.items()}
            view["callers"] = callers_view(entries, spent, limits)
        return view

    # `builtins.list`: in this class body the name `list` is the `list` method above
    def _history(
        self, project: str, entries: builtins.list[LedgerEntry], months: set[str]
    ) -> builtins.list[LedgerEntry]:
        """Entries retention moved to history in those months; a row caught mid-move (in both
        tables) counts once."""
        seen = {e.session_id for e in entries}
        moved: builtins.list[LedgerEntry] = []
        for month in sorted(months):
            moved += [e for e in self.store.history_entries(project, month) if e.session_id not in seen]
        return moved

    # ------------------------------------------------------------ usage and audit helpers
    def _usage(self, policy: ProjectPolicy, now: datetime) -> dict[Period, Usage]:
        return self.store.current_usage(policy.name, now, policy)

    # ------------------------------------------------------------ audit
    def _record(
        self, project: str, session_id: str, action: str, reason: str, figures: dict, now: datetime, caller: str | None
    ) -> AuditRecord:
        return AuditRecord(
            at=now,
            source=self.source,
            project=project,
            session_id=session_id,
            action=action,
            reason=reason,
            figures=figures,
            caller=caller,
        )

    def _audit(
        self,
        project: str,
        session_id: str,
        action: str,
        reason: str,
        figures: dict,
        now: datetime,
        caller: str | None = None,
    ) -> None:
        """Write a row of what was done (logged, never raised, when the write fails)."""
        try:
            audit.write(self.store, [self._record(project, session_id, action, reason, figures, now, caller)])
        except Exception:
            log.warning("could not write the gate's audit record (%s %s)", action, reason)

    def _intent(
        self, project: str, session_id: str, action: str, reason: str, figures: dict, now: datetime, caller: str | None
    ) -> AuditRecord:
        """Before ARR is asked to act (`audit.intend`): the row, returned with its key, or without
        one if the write failed."""
        record = self._record(project, session_id, action, reason, figures, now, caller)
        try:
            (record,) = audit.intend(self.store, [record])
        except Exception:
            log.warning("could not write the gate's audit record (%s %s)", action, reason)
        return record

    def _finish(self, intent: AuditRecord, figures: dict, outcome: str = "ok") -> None:
        """After ARR acted: the outcome into the intent's row (`audit.complete`)."""
        record = replace(intent, figures={**intent.figures, **figures}, outcome=outcome)
        try:
            audit.complete(self.store, [record])
        except Exception:
            log.warning("could not complete the gate's audit record (%s %s)", record.action, record.reason)
