"""What every part of the gate shares: `Gate`, its state and helpers (whom a caller acts as, ARR's
view of a session, the answer's shape, webhook events, audit rows).

Authentication lives here, not in a module of its own: every use case starts with it, and a session
request then crosses one file fewer (tests/integration/gate/test_request_path.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from governor.core.model import (
    AuditRecord,
    CallerLimits,
    CallerRef,
    LedgerEntry,
    LedgerState,
    Period,
    ProjectPolicy,
    Session,
    Usage,
)
from governor.core.policy import gate as rules
from governor.core.policy.callers import (
    KEY_NOT_VALID,
    PRINCIPAL_PREFIX,
    PROJECT_ROW_SECONDS,
    PROJECT_SCOPE,
    acting_principal,
    standing,
)
from governor.service import audit
from governor.service.gate.arr_reads import ArrReads
from governor.service.gate.views import session_view
from governor.service.ports import ArrPort, GateStore, NotFound, Refusal
from governor.service.webhooks import event_data

log = logging.getLogger(__name__)

DEFAULT_CAPACITY_WINDOW = timedelta(minutes=10)  # GOVERNOR_CAPACITY_WINDOW_MINUTES' default


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
    key_id: str | None = None  # the id of the key it presented (None: a principal, or a key issued before ids)
    presented: bool = False  # this request authenticated as it (not the governor acting on its behalf)

    @property
    def ref(self) -> CallerRef | None:
        """For the admission's round, which checks the caller again (`callers.standing`)."""
        return CallerRef(self.name, self.key_id, self.presented) if self.name else None

    @property
    def limited(self) -> bool:
        return self.limits is not None and not self.limits.empty

    @property
    def sees_only(self) -> str | None:
        """The caller whose sessions this one sees (lists, reads, acts on): itself, unless the manage
        API gave it the project (None: every caller's)."""
        return None if self.project_wide else self.name

    def sees(self, entry: LedgerEntry) -> bool:
        return self.sees_only is None or entry.caller == self.sees_only

    def may_act_on(self, entry: LedgerEntry) -> None:
        if not self.sees(entry):
            raise Refusal(
                "forbidden",
                "this key may act only on the sessions it started (a key with scope project may act on all)",
                {"limit": "scope"},
            )

    def may_repeat(self, entry: LedgerEntry) -> None:
        """An Idempotency-Key repeat reaches the first request's session only for a caller that may
        act on it: otherwise another key could read, resume or restart it by sending the same key."""
        if not self.sees(entry):
            raise Refusal(
                "forbidden",
                "another caller's request used this Idempotency-Key; use a new key",
                {"field": "Idempotency-Key", "limit": "scope"},
            )


def upstream(detail: str, retry_after: int = 30) -> Refusal:
    return Refusal("upstream-unavailable", detail, {"retryAfter": retry_after})


def session_key(account: str, session_id: str) -> tuple:
    return ("session", account, session_id)


def list_key(account: str) -> tuple:
    return ("list", account)


class Gate:
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

    # ------------------------------------------------------------ who calls
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
            principal = acting_principal(matched, policy.principal_limits)
            limits = policy.principal_limits.get(principal)
            return policy, Identity(PRINCIPAL_PREFIX + principal, limits, presented=True)
        if not caller.key:
            raise Refusal("unauthorized", "send the project's caller key in the X-Api-Key header")
        now = self.clock()
        key = self.store.find_key(project, caller.key, now)
        if key is None:
            raise Refusal("forbidden", KEY_NOT_VALID)
        self.store.touch_key(project, key.name, now)
        scope = key.scope == PROJECT_SCOPE
        return policy, Identity(key.name, key.limits, project_wide=scope, key_id=key.key_id, presented=True)

    def limits_of(self, policy: ProjectPolicy, name: str | None, who: Identity) -> CallerLimits | None:
        """The limits of the caller that started a session (None when it has none to keep)."""
        if name == who.name:
            return who.limits if who.limited else None
        if not name:
            return None
        keys = () if name.startswith(PRINCIPAL_PREFIX) else self.store.list_keys(policy.name)
        return standing(CallerRef(name), policy, keys, self.clock())

    def identity_of(self, policy: ProjectPolicy, name: str | None) -> Identity:
        """Whom a session's own caller acts as, with its limits (an attempt started for it)."""
        return Identity(name, self.limits_of(policy, name, Identity()))

    # ------------------------------------------------------------ ARR
    def client(self, account: str) -> ArrPort:
        client = self.arr.get(account)
        if client is None:
            raise upstream(f"ARR account {account!r} is not configured", retry_after=300)
        return client

    def live(self, entry: LedgerEntry) -> Session | None:
        if entry.state is LedgerState.CLOSED:
            return None
        try:
            return self.client(entry.account).get(entry.session_id)
        except NotFound:
            return None

    def seen(self, entry: LedgerEntry) -> tuple[Session | None, float | None]:
        """ARR's view of an open entry's session through `reads`, and its age in seconds
        (None, None for a closed entry: ARR is not asked)."""
        if entry.state is LedgerState.CLOSED:
            return None, None
        seen = self.reads.read(session_key(entry.account, entry.session_id), lambda: self.live(entry))
        return seen.value, round(seen.age, 1)

    def forget_reads(self, entry: LedgerEntry) -> None:
        self.reads.forget(session_key(entry.account, entry.session_id), list_key(entry.account))

    # ------------------------------------------------------------ answers and events
    def current_usage(self, policy: ProjectPolicy, now: datetime) -> dict[Period, Usage]:
        return self.store.current_usage(policy.name, now, policy)

    def view(self, policy: ProjectPolicy, entry: LedgerEntry, session: Session | None, usage) -> dict:
        interval = rules.heartbeat_interval(policy.idle_timeout, self.arr_time_scale)
        return {**session_view(policy, entry, session, usage), "heartbeatIntervalSeconds": interval}

    def announce(self, policy: ProjectPolicy | None, event: str, session_id: str, reason: str, figures: dict) -> None:
        """A webhook event of the gate's own (placement, capacity); never raises."""
        if self.notify is None or policy is None or not policy.webhook_url:
            return
        payload = event_data(event, policy.name, session_id, reason, figures, self.clock())
        try:
            self.notify(policy, payload)
        except Exception:
            log.warning("could not queue the %s webhook of %s", event, policy.name)

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

    def audit(
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

    def intent(
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

    def finish(self, intent: AuditRecord, figures: dict, outcome: str = "ok") -> None:
        """After ARR acted: the outcome into the intent's row (`audit.complete`)."""
        record = replace(intent, figures={**intent.figures, **figures}, outcome=outcome)
        try:
            audit.complete(self.store, [record])
        except Exception:
            log.warning("could not complete the gate's audit record (%s %s)", record.action, record.reason)
