"""The sweep's steps after `decide`, as pure rules: how an act went, what the ledger is told, which
projects are metered, what is audited, told and saved, and which attempts get a next one.

The service (governor/service/sweep/) gathers the facts, calls these and carries out what they say;
they never call ARR or the store. No I/O, no clock.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from governor.core.errors import Refusal, ServiceError
from governor.core.model import (
    PENDING_GRACE,
    AuditRecord,
    LedgerEntry,
    ProjectPolicy,
    Session,
    SessionStatus,
    Usage,
    ceil_minutes,
    minutes_figure,
    whole_minutes,
)
from governor.core.policy import placement
from governor.core.policy.extension import SWEEP_REFUSALS, extension_cost, refused_step_saving
from governor.core.policy.sweep import Action, Decision, interrupted_outcome, interrupted_stop_saving
from governor.core.policy.sweep_reconcile import AMBIGUOUS, LOOKUP_FAILED

UNFINISHED_LOOKBACK = timedelta(days=1)  # how far back to look for a dead run's audit rows when no run is recorded
# A refusal leaves the session as it is (warned or not); a stop for "closed-hours" saves its lease.
REFUSALS = (Action.WARN, Action.LEAVE)
OK, FAILED, SKIPPED = "ok", "failed", "skipped"  # an item's outcome


# ---------------------------------------------------------------- act
def failure(exc: ServiceError) -> str:
    """What a record calls a failed call: the dependency's code, else its HTTP status, else the error's kind."""
    return exc.code or (f"http-{exc.status}" if exc.status is not None else type(exc).__name__)


def act_outcome(exc: Exception) -> tuple[str, str]:
    """(outcome, error) of an act that raised `exc`: a rule's refusal skips it (its reason); ARR or the
    store failing, or anything else, fails it (retried by the next sweep, which decides again)."""
    if isinstance(exc, Refusal):
        return SKIPPED, exc.reason
    if isinstance(exc, ServiceError):
        return FAILED, failure(exc)
    return FAILED, type(exc).__name__


def close_terms(decision: Decision, entry: LedgerEntry, session: Session | None) -> tuple[int, str]:
    """(final minutes, final status) a close writes: the decision's final minutes, else what the row
    charged; ARR's status, else Stopped (ARR has no session)."""
    final = decision.figures.get("final_minutes", entry.charged_minutes)
    status = session.status.value if session else SessionStatus.STOPPED.value
    return final, status


def stop_settled(final: Session) -> int | None:
    """ARR's read after a stop: the minutes to close the row at when ARR has ended the session, None
    while it still runs (the next sweep, seeing it gone, settles it)."""
    return None if final.status.active else whole_minutes(final.elapsed)


def must_revert(applied: timedelta, target: timedelta) -> bool:
    """ARR refused the extension to `target` and holds `applied`: when that is short of the target,
    ARR refuses this lease for good, so the reservation is given back rather than retried forever."""
    return ceil_minutes(applied) < ceil_minutes(target)


def shortened_step(decided: timedelta, held: timedelta, rate: int, reserved: timedelta) -> dict:
    """The figures an extension's round changes when it reserved `reserved`, shorter than the step
    `decided` from the sweep's snapshot (the project row it read allows less: `policy.sweep.round_step`):
    the new lease and its extra cost over `held` (the longer of ARR's and the ledger's lease when
    the sweep decided) as reserved, and the decided lease as `decided_lease_minutes`. Nothing (an
    empty dict) when the round reserved the decided step."""
    if reserved >= decided:
        return {}
    return {
        "decided_lease_minutes": minutes_figure(decided),
        "new_lease_minutes": minutes_figure(reserved),
        "extra_cost": extension_cost(rate, held, reserved),
    }


def recorded_lease(entry: LedgerEntry, arr_lease: timedelta) -> timedelta:
    """The ledger's lease once ARR's longer one (raised outside the governor) is written: a re-run
    finds it there already and writes nothing new."""
    return max(entry.lease, arr_lease)


# ---------------------------------------------------------------- meter
@dataclass(frozen=True)
class Checkpoint:
    """One project's metering write: (project, session id, ARR's whole elapsed minutes) per session
    behind, and the minutes it charges."""

    project: str
    rows: list[tuple[str, str, int]]
    minutes: int


def checkpoints(
    managed: Iterable[tuple[LedgerEntry, Session]], now: datetime, checkpoint_minutes: int
) -> list[Checkpoint]:
    """The projects to meter now: writes follow changes, not session count. A project is metered when
    one of its sessions has `checkpoint_minutes` uncharged, or near the end of the UTC day (so minutes
    land in the right day), with every session of it that is behind."""
    near_day_end = (now + timedelta(minutes=checkpoint_minutes + 1)).date() != now.date()
    per_project: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    minutes: Counter[str] = Counter()
    due: set[str] = set()
    for entry, session in managed:
        elapsed = whole_minutes(session.elapsed)
        behind = elapsed - entry.charged_minutes
        if behind <= 0:
            continue
        per_project[entry.project].append((entry.project, entry.session_id, elapsed))
        minutes[entry.project] += behind
        if behind >= checkpoint_minutes:
            due.add(entry.project)
    return [
        Checkpoint(project, rows, minutes[project])
        for project, rows in per_project.items()
        if project in due or near_day_end
    ]


# ---------------------------------------------------------------- record
def intends(decision: Decision) -> bool:
    """An action that will run: its audit row is written before it (outcome "unknown")."""
    return decision.acts and not decision.dry_run


def audited(decision: Decision) -> bool:
    """A decision the audit table keeps: every one but leaving a session as it is (a failed look-up
    and a session nobody can tell whose it is are kept)."""
    return decision.action is not Action.LEAVE or decision.reason in (LOOKUP_FAILED, AMBIGUOUS)


def events(decision: Decision, outcome: str) -> list[tuple[str, str]]:
    """The webhook events (event, reason) of a decision once acted on: its own event when the act
    was done (or in dry-run), a warning or a refusal whatever happened; and a warning raised alongside."""
    if decision.action is Action.ACTIVATE:
        # a pending row ARR runs, activated: its event is the decision it was governed by, whose
        # reason rides as the warning (policy.sweep.decide), told once under that reason
        return [(decision.event, decision.warning)] if decision.event and decision.warning else []
    told = []
    done = outcome == OK or decision.dry_run
    if decision.event and (done or decision.event in ("warn", "refused")):
        told.append((decision.event, decision.reason))
    if decision.warning:
        told.append(("warn", decision.warning))
    return told


def unfinished_since(previous: datetime | None, now: datetime, lock_ttl: timedelta) -> datetime:
    """How far back to look for audit rows a dead run left "unknown": the previous run's start less
    the lock's lease (a run can last that long), else a day."""
    return now - UNFINISHED_LOOKBACK if previous is None else previous - lock_ttl


def gate_row_judged(record: AuditRecord, now: datetime) -> bool:
    """An unfinished gate row older than any gate request lasts: a younger one may still be at work."""
    return record.at <= now - PENDING_GRACE


def complete_interrupted(record: AuditRecord, session: Session | None, entry: LedgerEntry | None) -> AuditRecord:
    """A dead run's "unknown" row with the outcome this run sees (`interrupted_outcome`: `session`
    ARR's listed session under its id, `entry` its open row), marked completed by the next sweep."""
    outcome = interrupted_outcome(record, session, entry)
    figures = {**record.figures, "completed": "next-sweep"}
    if outcome != OK:
        figures["error"] = "interrupted"
    return replace(record, outcome=outcome, figures=figures)


def health_outcome(errors: int, failed: int) -> str:
    """The sweep's outcome: "errors" when a step or an action failed."""
    return "errors" if errors or failed else OK


# ---------------------------------------------------------------- savings
def refusal_saving(decision: Decision, entry: LedgerEntry | None, policy: ProjectPolicy | None) -> int:
    """What a refused extension saves, not yet recorded for the session: one step at its rate when
    refused for one of the governor's limits (`refused_step_saving`); 0 for any other decision, a
    session without a row or project, or a dry run."""
    if decision.action not in REFUSALS or entry is None or policy is None or decision.dry_run:
        return 0
    limit = SWEEP_REFUSALS.get(decision.reason)
    return refused_step_saving(limit, entry.rate, policy, entry.saved_extension)


def stop_saving_due(record: AuditRecord, entry: LedgerEntry | None) -> int:
    """What a governor stop a dead run left unrecorded saved (`interrupted_stop_saving`), when more
    than the row already records; 0 otherwise."""
    amount = interrupted_stop_saving(record, entry)
    if entry is None or not amount or amount <= entry.saved_lease:
        return 0
    return amount


# ---------------------------------------------------------------- capacity
def capacity_failure(decision: Decision, outcome: str, entry: LedgerEntry | None, session: Session | None) -> bool:
    """An attempt the sweep closed because ARR ended it for want of capacity (remembered, and its
    request's next attempt started when it asked for `autoRetry`)."""
    return (
        decision.action is Action.CLOSE
        and outcome == OK
        and entry is not None
        and session is not None
        and placement.capacity_failed(session)
    )


def next_attempt_policy(policy: ProjectPolicy | None, dry_run: bool) -> ProjectPolicy | None:
    """The project a capacity failure's next attempt is started under; None (only remembered and
    told) in dry-run, the sweep's or the project's: starting an attempt is an action."""
    return policy if policy is not None and not (dry_run or policy.dry_run) else None


# ---------------------------------------------------------------- observe
def logged(decision: Decision) -> bool:
    """A decision the sweep logs one record for: an action or a warning."""
    return decision.acts or decision.action is Action.WARN


def counted(decision: Decision, outcome: str) -> bool:
    """An act that counts in the action metrics: done, and not in dry-run."""
    return outcome == OK and not decision.dry_run


def budget_utilization(current: Usage) -> float | None:
    """The share of the period's budget spent or reserved, a ratio (0.9 is 90 %; above 1 when a
    budget was lowered under what it already paid); None without a budget. One division of the two
    integers, so a use of exactly p % is the same double as the alert's `p / 100.0`."""
    if not current.budget:
        return None
    return (current.spent + max(current.reserved, 0)) / current.budget
