"""The sweep's decision table as pure functions: what to do with each ARR session this minute.

Inputs are values only (the live Session, its LedgerEntry, the ProjectPolicy, the project's
usage per period, `now`, the sweep options); the output is a `Decision` carrying the action,
a stable reason code and the figures that led to it. No I/O, no clock: docs/governor.md
explains every rule with an example timeline.

Rule order for a managed session (first match wins):
  adopted for a v1 claim (its stop failed or its sweep died) -> stop (claimed);
  project missing/disabled -> stop; budget exhausted -> stop; hard cap reached -> stop;
  outside working hours with closing "stop" -> stop (closed-hours);
  idle (Ready longer than the idle timeout, no heartbeat within it, measured on ARR's elapsed
  time when the heartbeat recorded it, else on the governor's clock) -> stop;
  ARR's lease ahead of the ledger's (raised outside the governor) -> record it and reserve its cost;
  ledger lease ahead of ARR's (an earlier extension not yet applied) -> extend to it;
  remaining lease < threshold and active -> extend, never past closing time (or refuse: budget /
  hard cap / closed-hours);
  a budget, cap or closing-time stop within `warn_before` (a budget or cap stop also within the ARR
  time until the next sweep, `ahead`, when that is longer) -> warn; otherwise leave.

The rest of the sweep's decisions sit beside this table: what each ledger row and listed session is
to the join (`sweep_reconcile`), and what follows a decision: acting, metering, audit, webhooks,
savings, capacity (`sweep_steps`).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from governor.core.errors import Refusal
from governor.core.model import (
    CLOCK_SKEW,
    PENDING_GRACE,
    AuditRecord,
    CallerFigures,
    CallerLimits,
    Closing,
    LedgerEntry,
    LedgerSnapshot,
    LedgerState,
    Period,
    ProjectPolicy,
    Session,
    SessionStatus,
    UnmanagedMode,
    Usage,
    ceil_minutes,
    lease_saving,
    made_before,
    minutes_figure,
    utc_text,
    whole_minutes,
)
from governor.core.policy import callers
from governor.core.policy import schedule as hours
from governor.core.policy.extension import extension_cost, reserve_step, step_shortfall
from governor.core.policy.limits import ARR_MAX_UPDATE_LEASE

CLAIM_TTL = timedelta(minutes=10)  # a v1 claim matches sessions for this long after its request, then expires
# stops of sessions no open ledger row paid for (made outside the governor, or already settled):
# nothing reserved, so nothing saved
UNMANAGED_STOP, RELEASED_STOP = "unmanaged", "released-still-running"
UNPAID_STOPS = (UNMANAGED_STOP, RELEASED_STOP)
CLAIMED = "claimed"  # a session a v1 claim made: charged to the claim's project, then stopped


class Action(StrEnum):
    STOP = "stop"
    EXTEND = "extend"
    WARN = "warn"
    LEAVE = "leave"
    ADOPT = "adopt"
    REPORT = "report"
    CLOSE = "close"
    ACTIVATE = "activate"
    RELEASE = "release"
    RECORD = "record"  # write ARR's longer lease into the ledger; ARR is not called


# Webhook events a decision can raise; "refused" is a refused extension.
EVENTS = ("warn", "stop", "extend", "refused")  # and placement's: policy.placement.EVENTS


@dataclass(frozen=True)
class SweepOptions:
    warn_before: timedelta = timedelta(minutes=10)
    dry_run: bool = False
    # Time since the previous sweep on ARR's clock (the governor's gap times the ARR time scale, in
    # whole minutes): a warning is raised once, by the sweep whose window the warning point falls
    # in. None (no previous sweep known) means "warn if within warn_before".
    window: timedelta | None = None
    pending_grace: timedelta = PENDING_GRACE
    # The same gap on the governor's own clock, unrounded: closing time is measured on that clock.
    clock_window: timedelta | None = None
    # ARR time until the next expected sweep (the sweep interval times the ARR time scale): a budget
    # or cap stop closer than that is warned now, as the next sweep may already be past it, so the
    # warning comes before the stop at any time scale. None: warn_before alone.
    ahead: timedelta | None = None
    # The horizons the previous sweep found each session inside, as (account, session id, kind):
    # a crossing is news when the previous sweep did not see it. The window above only estimates
    # that, since ARR's elapsed minutes move by more or less than the gap between sweep starts
    # (list times vary), so it missed or repeated a warning at a minute's edge. None: unknown (no
    # previous sweep, or one that did not record them): the window decides.
    seen: frozenset[tuple[str, str, str]] | None = None


def whole_minutes_window(gap: timedelta, scale: float = 1.0) -> timedelta:
    """The gap between two sweeps on ARR's clock (`scale` ARR seconds per governor second: 60 under
    `make run`'s emulator, where 5 s between sweeps are 5 ARR minutes). ARR reports elapsed time in
    whole minutes, so a 60.3 s gap is one minute: otherwise a warning point could fall in two
    consecutive windows and be sent twice."""
    return timedelta(minutes=max(round(gap.total_seconds() * scale / 60), 1))


def minutes_ahead(interval: timedelta, scale: float = 1.0) -> timedelta:
    """ARR time until the next sweep, `interval` away on the governor's clock, in whole minutes
    rounded up."""
    return timedelta(minutes=max(math.ceil(interval.total_seconds() * scale / 60), 1))


def sweep_options(
    warn_before: timedelta,
    dry_run: bool,
    now: datetime,
    previous: datetime | None,
    interval: timedelta | None,
    scale: float = 1.0,
    seen: frozenset[tuple[str, str, str]] | None = None,
) -> SweepOptions:
    """A run's options from what it knows: when the previous run started (None: unknown), the
    horizons it saw sessions inside (`SweepOptions.seen`) and the timer's interval (None: no
    schedule), `scale` ARR seconds per governor second."""
    return SweepOptions(
        warn_before=warn_before,
        dry_run=dry_run,
        window=None if previous is None else whole_minutes_window(now - previous, scale),
        clock_window=None if previous is None else max(now - previous, timedelta(0)),
        ahead=None if interval is None else minutes_ahead(interval, scale),
        seen=None if previous is None else seen,
    )


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    figures: dict = field(default_factory=dict)
    new_lease: timedelta | None = None
    event: str | None = None  # webhook event, one of EVENTS
    warning: str | None = None  # a warning raised alongside another action (e.g. extend + cap soon)
    reserve: bool = True  # extend: reserve budget for the step (False when re-applying the ledger's lease)
    dry_run: bool = False
    inside: frozenset[str] = frozenset()  # the horizons (WARNINGS' and "lease-low") the session is inside now

    @property
    def acts(self) -> bool:
        return self.action not in (Action.LEAVE, Action.REPORT, Action.WARN)


# What a session can come within reach of, each warned once per crossing: a budget stop, the hard
# cap, closing time (each with its warning), and the extension threshold (whose news is a refused
# extension).
WARNINGS = {"budget": "budget-stop-soon", "hard-cap": "hard-cap-soon", "closing": "closing-soon"}


# The health row keeps at most this many horizons (about 100 bytes each, in a row of at most 1 MiB
# that every health probe reads); past it, the next sweep judges crossings by its gap alone.
MAX_RECORDED = 2000


def recorded_horizons(
    decided: Mapping[tuple[str, str], frozenset[str]],
    seen: frozenset[tuple[str, str, str]] | None,
    open_rows: Collection[tuple[str, str]],
) -> tuple[tuple[str, str, str], ...] | None:
    """What the health row passes on (`SweepOptions.seen` of the next sweep): the horizons each
    session this sweep decided is inside (`decided`, by (account, session id)), and for a session
    with an open row it decided nothing about (its account's list failed, it was listed late, its
    look-up failed) what the previous sweep saw, so the next does not warn it again. None: over
    MAX_RECORDED."""
    kept = {one for one in seen or () if one[:2] not in decided and one[:2] in open_rows}
    now = {(*key, kind) for key, kinds in decided.items() for kind in kinds}
    recorded = tuple(sorted(kept | now))
    return recorded if len(recorded) <= MAX_RECORDED else None


@dataclass
class _Horizons:
    """The horizons one session is inside this sweep, and which of them it has just crossed."""

    key: tuple[str, str]  # (account, session id)
    options: SweepOptions
    inside: set[str] = field(default_factory=set)

    def news(
        self, kind: str, distance: timedelta, horizon: timedelta, window: timedelta | None = None, inclusive=True
    ) -> bool:
        """True for the one sweep that first sees `distance` inside `horizon`: the previous sweep
        did not (`options.seen`), or, when that is unknown, still saw it outside `window` (default
        `options.window`) ago. `inclusive`: is distance == horizon inside?"""
        inside = distance <= horizon if inclusive else distance < horizon
        if not inside:
            return False
        self.inside.add(kind)
        if self.options.seen is not None:
            return (*self.key, kind) not in self.options.seen
        window = self.options.window if window is None else window
        if window is None:
            return True
        before = distance + window
        return before > horizon if inclusive else before >= horizon


def _budget_figures(usage: Mapping[Period, Usage]) -> dict:
    figures = {}
    for period, item in sorted(usage.items()):
        if item.budget is None:
            continue
        figures[f"{period.value}_budget"] = item.budget
        figures[f"{period.value}_spent"] = item.spent
        figures[f"{period.value}_reserved"] = item.reserved
    return figures


def _exhausted(usage: Mapping[Period, Usage]) -> Period | None:
    for period, item in sorted(usage.items()):
        if item.budget is not None and item.spent >= item.budget:
            return period
    return None


def _time_to_budget_stop(usage: Mapping[Period, Usage], burn_rate: int) -> timedelta | None:
    if burn_rate <= 0:
        return None
    soonest = None
    for item in usage.values():
        if item.budget is None:
            continue
        left = timedelta(hours=max(item.budget - item.spent, 0) / burn_rate)
        soonest = left if soonest is None else min(soonest, left)
    return soonest


def idle_for(entry: LedgerEntry, session: Session, now: datetime) -> timedelta | None:
    """Time since the last heartbeat, on ARR's clock when the heartbeat read ARR's elapsed time,
    else on the governor's; None when no heartbeat was ever seen."""
    if entry.last_heartbeat is None:
        return None
    if entry.heartbeat_elapsed is not None:
        return max(session.elapsed - entry.heartbeat_elapsed, timedelta(0))
    return max(now - entry.last_heartbeat, timedelta(0))


def is_active(entry: LedgerEntry, session: Session, policy: ProjectPolicy, now: datetime) -> bool:
    since = idle_for(entry, session, now)
    return since is not None and since <= policy.idle_timeout


def extension_target(session: Session, policy: ProjectPolicy) -> timedelta:
    """Total lease since start: ARR's elapsed plus one step, whole minutes, never past the caps."""
    wanted = timedelta(minutes=ceil_minutes(session.elapsed + policy.extension_step))
    cap = timedelta(minutes=whole_minutes(policy.hard_max_duration))
    return min(wanted, cap, ARR_MAX_UPDATE_LEASE)


def step_target(
    session: Session, policy: ProjectPolicy, now: datetime, lease: timedelta
) -> tuple[timedelta | None, str | None]:
    """The lease the sweep extends `session`, which holds `lease`, to under `policy` at `now`: one
    step (`extension_target`), never past closing time (working hours); or (None, why) when that is
    no longer than `lease`: "closed-hours" (closing time is there already, or the project is
    closed) or "extension-refused-cap" (the hard cap)."""
    target = extension_target(session, policy)
    if policy.schedule is not None:
        left = hours.opening(policy.schedule, now).until_closing(now)
        closing = timedelta(minutes=whole_minutes(session.elapsed if left is None else session.elapsed + left))
        if closing <= lease:
            return None, "closed-hours"
        target = min(target, closing)
    if target <= lease:
        return None, "extension-refused-cap"
    return target, None


def round_step(
    entry: LedgerEntry,
    session: Session,
    decided: timedelta,
    policy: ProjectPolicy,
    now: datetime,
    usage: Mapping[Period, Usage],
    caller_limits: CallerLimits | None = None,
    caller: CallerFigures | None = None,
) -> timedelta:
    """The lease a sweep's extension reserves, judged again in its ledger round by the project row
    (`policy`) and the caller's limits that round read (`entry`, `usage` and `caller`: its figures):
    the round may run seconds after the sweep's snapshot (ARR's calls, ETag retries), and a step,
    hard cap, closing time or limit lowered meanwhile must hold. The step `decided` from the
    snapshot bounds it, and so does the one the row allows (`step_target`); a row that allows none
    refuses it for the reason the sweep's decision would give. A step already held is kept, and the
    budgets judge the whole step (`reserve_step`)."""
    held = max(entry.lease, session.max_lease)
    if decided > held:
        if not policy.enabled:
            raise Refusal("project-disabled", "the project is disabled")
        allowed, refused = step_target(session, policy, now, held)
        if allowed is None:
            assert refused is not None  # step_target names why it allows no step
            what = "closing time" if refused == "closed-hours" else "the hard cap"
            raise Refusal(refused, f"{what} allows no lease beyond {whole_minutes(held)} min now")
        decided = min(decided, allowed)
    return reserve_step(entry, session.max_lease, decided, usage, caller_limits, caller)


def caller_of(
    entry: LedgerEntry,
    policy: ProjectPolicy | None,
    snapshot: LedgerSnapshot,
    figures: Mapping[tuple[str, str], CallerFigures],
) -> tuple[CallerLimits, CallerFigures] | None:
    """The limits of its own the session's caller has, and what it holds (`figures`: the snapshot's
    `caller_figures`); None without limits. (A row the snapshot missed is counted by the extension's
    own guarded round at the act.)"""
    name = entry.caller
    if policy is None or not name:
        return None
    limits = callers.limits_of(name, policy, snapshot.key_limits.get(entry.project, {}))
    if limits is None:
        return None
    return limits, figures.get((entry.project, name)) or CallerFigures(name)


def decide(
    session: Session | None,
    entry: LedgerEntry,
    policy: ProjectPolicy | None,
    usage: Mapping[Period, Usage],
    now: datetime,
    options: SweepOptions,
    burn_rate: int = 0,
    caller: tuple[CallerLimits, CallerFigures] | None = None,
) -> Decision:
    """The decision for one managed session. `usage` holds the project's current periods with
    money metered up to now; `burn_rate` is the project's micros per hour across its Ready sessions;
    `caller`: the limits of the session's caller (a named key or a principal with limits of its
    own) and what it holds, which an extension must fit too."""
    dry_run = options.dry_run or bool(policy and policy.dry_run)

    def make(action: Action, reason: str, **kwargs) -> Decision:
        return Decision(action, reason, figures=figures, dry_run=dry_run, inside=frozenset(watch.inside), **kwargs)

    figures: dict = {"state": entry.state.value}
    if session is None:
        return Decision(Action.CLOSE, "vanished", figures=figures, dry_run=dry_run)
    watch = _Horizons((entry.account, session.id), options)
    figures.update(
        status=session.status.value,
        elapsed_minutes=minutes_figure(session.elapsed),
        lease_minutes=minutes_figure(session.max_lease),
        ledger_lease_minutes=minutes_figure(entry.lease),
        rate=entry.rate,
    )
    if entry.state is LedgerState.PENDING:
        # ARR lists it, so the create happened; the gate may not have written the activation yet
        # (it rides the project's next transaction). Governed like an active row from this sweep;
        # when nothing else acts on it, the sweep writes the activation (bookkeeping: in dry-run too).
        active = replace(entry, state=LedgerState.ACTIVE)
        decision = decide(session, active, policy, usage, now, options, burn_rate, caller)
        if decision.acts:
            return decision
        warning = decision.reason if decision.action is Action.WARN else decision.warning
        inside = decision.inside
        if decision.action is Action.WARN and decision.warning:
            # the refusal rides as this decision's one warning: the other is left unseen for the next sweep
            inside = inside - {kind for kind, text in WARNINGS.items() if text == decision.warning}
        return Decision(
            Action.ACTIVATE,
            "pending-confirmed",
            decision.figures,
            warning=warning,
            event=decision.event,
            inside=inside,
        )
    if entry.claim:
        # adopted for a v1 claim and not yet stopped (the stop failed, or its sweep died): stopped as
        # when it was claimed, whatever the project's rules or dry-run (decide_claimed)
        return Decision(Action.STOP, CLAIMED, figures, event="stop", dry_run=options.dry_run)
    if policy is None:
        return make(Action.STOP, "project-missing", event="stop")
    if not policy.enabled:
        return make(Action.STOP, "project-disabled", event="stop")
    figures.update(_budget_figures(usage))
    period = _exhausted(usage)
    if period is not None:
        figures["period"] = period.value
        return make(Action.STOP, "budget-exhausted", event="stop")
    figures["hard_cap_minutes"] = minutes_figure(policy.hard_max_duration)
    if session.elapsed >= policy.hard_max_duration:
        return make(Action.STOP, "hard-cap", event="stop")
    opening: hours.Opening | None = None
    if policy.schedule is not None:
        opening = hours.opening(policy.schedule, now)
        figures.update(open=opening.open, closing=policy.schedule.closing.value, opens_at=utc_text(opening.opens_at))
        figures["closes_at"] = utc_text(opening.closes_at) if opening.open else None
        if not opening.open and policy.schedule.closing is Closing.STOP:
            return make(Action.STOP, "closed-hours", event="stop")
    since = idle_for(entry, session, now)
    figures["idle_timeout_minutes"] = minutes_figure(policy.idle_timeout)
    figures["idle_minutes"] = None if since is None else minutes_figure(since)
    watch_idle = not (entry.adopted and since is None)  # an adopted session is idle-checked once it heartbeats
    if (
        watch_idle
        and session.status is SessionStatus.READY
        and session.elapsed > policy.idle_timeout
        and (since is None or since > policy.idle_timeout)
    ):
        return make(Action.STOP, "idle", event="stop")

    warning = _warning(session, policy, usage, options, burn_rate, figures, watch, opening, now)
    if ceil_minutes(session.max_lease) > ceil_minutes(entry.lease) and session.status.active:
        # ARR already bills this lease, so it is reserved even if the budget cannot cover it
        figures["extra_cost"] = extension_cost(entry.rate, entry.lease, session.max_lease)
        return make(Action.RECORD, "lease-raised-outside", new_lease=session.max_lease, event="warn", warning=warning)
    if ceil_minutes(entry.lease) > ceil_minutes(session.max_lease) and session.status.active:
        return make(
            Action.EXTEND, "extension-pending", new_lease=entry.lease, reserve=False, event="extend", warning=warning
        )
    extension = _extension(session, entry, policy, usage, now, figures, watch, caller)
    if extension is not None:
        action, reason, new_lease = extension
        if action is Action.EXTEND:
            return make(action, reason, new_lease=new_lease, event="extend", warning=warning)
        if action is Action.WARN:
            return make(action, reason, event="refused", warning=warning)
        if warning is None:
            return make(action, reason)  # refused earlier and already told: nothing new
    if warning is not None:
        return make(Action.WARN, warning, event="warn")
    return make(Action.LEAVE, "starting" if session.status is SessionStatus.STARTING else "ok")


def _extension(session, entry, policy, usage, now, figures, watch: _Horizons, caller=None):
    if session.status is not SessionStatus.READY:
        return None
    lease = max(session.max_lease, entry.lease)
    remaining = max(lease - session.elapsed, timedelta(0))
    figures["remaining_lease_minutes"] = minutes_figure(remaining)
    figures["extension_threshold_minutes"] = minutes_figure(policy.extension_threshold)
    if remaining >= policy.extension_threshold or not is_active(entry, session, policy, now):
        return None
    news = watch.news("lease-low", remaining, policy.extension_threshold, inclusive=False)
    target, refused = step_target(session, policy, now, lease)
    if target is None:
        return (Action.WARN if news else Action.LEAVE), refused, None
    extra = extension_cost(entry.rate, lease, target)
    figures.update(new_lease_minutes=minutes_figure(target), extra_cost=extra)
    limits, held = caller if caller is not None else (None, None)
    short = step_shortfall(usage, extra, limits, held)
    if short is not None:
        if short.period is not None:
            figures["period"] = short.period.value
        else:
            figures["caller"] = held.name  # type: ignore[union-attr]
        return (Action.WARN if news else Action.LEAVE), f"extension-refused-{short.limit}", None
    watch.inside.discard("lease-low")  # its news is a refusal: the next sweep's refusal is one
    return Action.EXTEND, "lease-low", target


def _warning(session, policy, usage, options, burn_rate, figures, watch: _Horizons, opening=None, now=None):
    if session.status is not SessionStatus.READY:
        return None
    to_cap = policy.hard_max_duration - session.elapsed
    to_budget = _time_to_budget_stop(usage, burn_rate)
    figures["warn_before_minutes"] = minutes_figure(options.warn_before)
    figures["minutes_to_hard_cap"] = minutes_figure(to_cap)
    horizon = options.warn_before if options.ahead is None else max(options.warn_before, options.ahead)
    news = []
    if to_budget is not None:
        figures["minutes_to_budget_stop"] = minutes_figure(to_budget)
        figures["burn_rate"] = burn_rate
        if watch.news("budget", to_budget, horizon):
            news.append("budget")
    if watch.news("hard-cap", to_cap, horizon):
        news.append("hard-cap")
    left = None if opening is None else opening.until_closing(now)
    if left is not None:
        warn_before = policy.schedule.warn_before if policy.schedule.warn_before is not None else options.warn_before
        figures["minutes_to_closing"] = minutes_figure(left)
        window = options.clock_window if options.clock_window is not None else options.window
        if watch.news("closing", left, warn_before, window):
            news.append("closing")
    if not news:
        return None
    # one warning a sweep: a horizon crossed beside it is left unseen, so the next sweep warns it
    watch.inside.difference_update(news[1:])
    return WARNINGS[news[0]]


def decide_unmanaged(
    session: Session, mode: UnmanagedMode, adopt_into: ProjectPolicy | None, options: SweepOptions
) -> Decision:
    figures = {
        "status": session.status.value,
        "elapsed_minutes": minutes_figure(session.elapsed),
        "lease_minutes": minutes_figure(session.max_lease),
        "mode": mode.value,
    }
    if mode is UnmanagedMode.STOP:
        return Decision(Action.STOP, UNMANAGED_STOP, figures, event=None, dry_run=options.dry_run)
    if mode is UnmanagedMode.ADOPT:
        if adopt_into is None:
            return Decision(Action.REPORT, "unmanaged-adopt-project-missing", figures, dry_run=options.dry_run)
        figures["project"] = adopt_into.name
        return Decision(Action.ADOPT, "unmanaged", figures, dry_run=options.dry_run or adopt_into.dry_run)
    return Decision(Action.REPORT, "unmanaged", figures, dry_run=options.dry_run)


def pending_due(entry: LedgerEntry, now: datetime, options: SweepOptions) -> bool:
    """A pending admission old enough that its ARR create has certainly returned or failed."""
    return entry.state is LedgerState.PENDING and now - entry.requested_at > options.pending_grace


def is_claim(entry: LedgerEntry, now: datetime, options: SweepOptions) -> bool:
    """A pending v1 row that may own sessions it cannot name: the gate marked its create as
    ambiguous, or the gate is gone (past the grace) without activating it."""
    return entry.state is LedgerState.PENDING and (entry.claim or pending_due(entry, now, options))


def claim_expired(claim: LedgerEntry, now: datetime) -> bool:
    return now - claim.requested_at > CLAIM_TTL


def claim_matches(claim: LedgerEntry, session: Session, now: datetime) -> bool:
    """Could `session` (listed, owned by no ledger row) have been made by the v1 create of `claim`?

    Same account, same size (when ARR says), the lease the claim asked for (to the minute), and
    made within the claim's window: from CLOCK_SKEW before its request to CLAIM_TTL after. ARR's
    creation time decides when the wire has it (2021-01-01); v1 has none, so its Ready time
    (`now - elapsed`) bounds it: a session Ready before the window opened was not made by the claim.
    Limits: a session made outside the governor in the same account, with the same size and lease,
    inside a claim's window, is taken for the claim's and stopped; one that ARR does not list yet
    in the sweep that expires the claim (the first after CLAIM_TTL) is left to the unmanaged mode.
    """
    if session.account != claim.account or not session.status.active:
        return False
    if session.size is not None and session.size is not claim.size:
        return False
    if ceil_minutes(session.max_lease) != ceil_minutes(claim.lease):
        return False
    opened, closes = claim.requested_at - CLOCK_SKEW, claim.requested_at + CLAIM_TTL
    if session.created is not None:
        return opened <= session.created <= closes
    return now - session.elapsed >= opened


def decide_claimed(session: Session, claim: LedgerEntry, options: SweepOptions) -> Decision:
    """A session made by an ambiguous v1 create: nobody holds its id, so it is charged to the
    claim's project from its start and stopped."""
    figures = {
        "status": session.status.value,
        "elapsed_minutes": minutes_figure(session.elapsed),
        "lease_minutes": minutes_figure(session.max_lease),
        "claim": claim.session_id,
        "requested_at": claim.requested_at.isoformat(),
    }
    return Decision(Action.STOP, CLAIMED, figures, event="stop", dry_run=options.dry_run)


def decide_released(session: Session, closed: LedgerEntry, options: SweepOptions) -> Decision:
    """A session still running under the id of a closed or released ledger row: the governor gave
    its money back (or settled it), so nothing pays for it any more. Stopped whatever the unmanaged mode."""
    figures = {
        "status": session.status.value,
        "elapsed_minutes": minutes_figure(session.elapsed),
        "lease_minutes": minutes_figure(session.max_lease),
        "charged_minutes": closed.charged_minutes,
        "released": closed.released,
    }
    return Decision(Action.STOP, RELEASED_STOP, figures, dry_run=options.dry_run)


def decide_claim_expired(claim: LedgerEntry, now: datetime) -> Decision:
    figures = {"pending_minutes": minutes_figure(now - claim.requested_at), "reserved": claim.reserved}
    return Decision(Action.RELEASE, "claim-expired", figures)


def decide_pending(entry: LedgerEntry, found: Session | None, now: datetime) -> Decision:
    """`found`: the ARR session with the reservation's id (from the list or a GET), None if ARR has none."""
    figures: dict[str, object] = {
        "pending_minutes": minutes_figure(now - entry.requested_at),
        "reserved": entry.reserved,
    }
    if found is None:
        return Decision(Action.RELEASE, "pending-orphaned", figures)
    figures["status"] = found.status.value
    if not found.status.active and made_before(found, entry):  # the id's earlier session, charged in its own row
        return Decision(Action.RELEASE, "pending-made-before", figures)
    if not found.status.active:  # made, and already over: charge what ARR billed, release the rest
        figures["final_minutes"] = whole_minutes(found.elapsed)
        return Decision(Action.CLOSE, f"pending-ended-{found.status.value.lower()}", figures)
    return Decision(Action.ACTIVATE, "pending-confirmed", figures)


def decide_vanished(entry: LedgerEntry, final: Session | None) -> Decision:
    """A ledger session missing from ARR's list: settle it from its final state (GET)."""
    figures: dict[str, object] = {"charged_minutes": entry.charged_minutes}
    if final is None:
        figures["final_minutes"] = entry.charged_minutes
        return Decision(Action.CLOSE, "vanished-unknown", figures)
    figures.update(status=final.status.value, final_minutes=whole_minutes(final.elapsed))
    if final.status.active:
        return Decision(Action.LEAVE, "listed-late", figures)
    return Decision(Action.CLOSE, f"ended-{final.status.value.lower()}", figures)


def interrupted_outcome(record: AuditRecord, session: Session | None, entry: LedgerEntry | None) -> str:
    """The outcome of an action whose sweep (or gate) died after asking ARR, judged by a later sweep from
    what it sees: `session` is ARR's listed session under the row's id (None: not listed), `entry`
    the open ledger row (None: none). "ok" when the action's effect is there, else "failed" (the
    later sweep decides the session again anyway, so a failed action is retried)."""
    action, figures = record.action, record.figures
    if action == Action.STOP:
        done = session is None
    elif action == Action.EXTEND:
        # the sweep's decided or recorded lease, or the gate's granted one
        target = figures.get("new_lease_minutes") or figures.get("ledger_lease_minutes") or figures.get("leaseMinutes")
        done = session is not None and target is not None and minutes_figure(session.max_lease) >= target
    elif action in (Action.CLOSE, Action.RELEASE):
        done = entry is None
    elif action == Action.ACTIVATE:
        done = entry is not None and entry.state is LedgerState.ACTIVE
    elif action in (Action.ADOPT, Action.RECORD):
        done = entry is not None
    else:
        done = False
    return "ok" if done else "failed"


def paid_stop(record: AuditRecord) -> bool:
    """The row is a governor stop of a session an open ledger row paid for: one that saves (a
    sweep's: the gate's stop rows are the caller's own stops, which save nothing)."""
    return record.source == "sweep" and record.action == Action.STOP and record.reason not in UNPAID_STOPS


def interrupted_stop_saving(record: AuditRecord, entry: LedgerEntry | None) -> int:
    """What a governor stop whose sweep died before recording it saved, judged by a later sweep
    from the session's ledger row (`entry`, open or closed): the same `lease_saving` the stop
    records, once the row is closed as stopped; 0 while it is not (nothing is settled yet)."""
    if not paid_stop(record) or entry is None:
        return 0
    if entry.state is not LedgerState.CLOSED or entry.final_status is not SessionStatus.STOPPED:
        return 0
    return lease_saving(entry.rate, entry.lease, entry.charged_minutes)
