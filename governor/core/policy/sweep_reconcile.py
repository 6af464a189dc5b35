"""The sweep's join as pure rules: what each open ledger row and each listed session is to the sweep.

An open row whose account ARR listed is managed (ARR lists its session, pending ones too), looked up
by id (vanished, or a pending admission past the grace), or, in a v1 account where ARR picks the
ids, a request still at work or a claim (expired claims are released). A listed session no open row
owns is stopped if a closed row or a v1 claim says the governor asked for it, activated under the
one v1 request still at work that may have made it (left as it is while that is ambiguous), else
unmanaged. No I/O, no clock: the service lists, reads and carries out
(governor/service/sweep/reconcile.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from governor.core.model import LedgerEntry, LedgerState, ProjectPolicy, Session, UnmanagedMode, minutes_figure
from governor.core.policy.sweep import (
    Action,
    Decision,
    SweepOptions,
    claim_expired,
    claim_matches,
    decide_claim_expired,
    decide_claimed,
    decide_pending,
    decide_released,
    decide_unmanaged,
    decide_vanished,
    is_claim,
    pending_due,
)

Key = tuple[str, str]  # (account, session id)
LOOKUP_FAILED = "lookup-failed"  # a GET that failed: nothing decided, but audited
AMBIGUOUS = "pending-ambiguous"  # more than one young v1 request may have made it: left, but audited


@dataclass
class Joined:
    """The open rows of the accounts ARR listed, by what the sweep does with each."""

    managed: list[tuple[LedgerEntry, Session]] = field(default_factory=list)  # listed: governed by `decide`
    to_look_up: list[LedgerEntry] = field(default_factory=list)  # vanished, or pending past the grace: GET by id
    claims: list[LedgerEntry] = field(default_factory=list)  # v1 rows whose create failed or whose gate is gone
    starting: list[LedgerEntry] = field(default_factory=list)  # v1 rows whose gate may still be at work
    released: list[tuple[LedgerEntry, Decision]] = field(default_factory=list)  # expired claims, released


def join(
    entries: Mapping[Key, LedgerEntry],
    live: Mapping[Key, Session],
    listed_ok: Collection[str],
    now: datetime,
    options: SweepOptions,
    v1_accounts: Collection[str] = frozenset(),
) -> Joined:
    """Split the ledger's open entries: managed (listed, pending ones too: governed from their first
    sweep), to look up (vanished, or pending past the grace), and v1 claims to match (by request
    time). A row of an account whose list failed, and a young pending row ARR does not list yet,
    are decided nothing this run."""
    joined = Joined()
    for key, entry in entries.items():
        session = live.get(key)
        if entry.account not in listed_ok:
            continue  # account unknown or its list failed: decide nothing about it this run
        if session is not None:
            joined.managed.append((entry, session))
        elif entry.state is not LedgerState.PENDING:
            joined.to_look_up.append(entry)
        elif entry.account in v1_accounts:  # ARR picked the id: the row cannot be looked up by it
            if not is_claim(entry, now, options):
                joined.starting.append(entry)
                continue
            joined.claims.append(entry)  # an expired claim still matches what this sweep lists, then goes
            if claim_expired(entry, now):
                joined.released.append((entry, decide_claim_expired(entry, now)))
        elif pending_due(entry, now, options):
            joined.to_look_up.append(entry)
    joined.claims.sort(key=by_age)
    joined.starting.sort(key=by_age)
    return joined


def by_age(entry: LedgerEntry) -> tuple[datetime, str, str]:
    """Oldest request first; ties in a fixed order, so the same rows always decide the same way."""
    return entry.requested_at, entry.project, entry.session_id


def decide_looked_up(entry: LedgerEntry, found: Session | None, now: datetime) -> Decision:
    """A row looked up by id: `found` is what ARR has under it (None: nothing)."""
    if entry.state is LedgerState.PENDING:
        return decide_pending(entry, found, now)
    return decide_vanished(entry, found)


def decide_lookup_failed(error: str) -> Decision:
    """ARR could not be read for the row: leave it (the next sweep looks again), audited with `error`."""
    return Decision(Action.LEAVE, LOOKUP_FAILED, {"error": error})


@dataclass(frozen=True)
class Stray:
    """A listed session no open row owns, and what the sweep does with it."""

    key: Key
    session: Session
    project: str  # whose it is ("" when nobody's)
    decision: Decision
    entry: LedgerEntry | None = None  # the v1 request row it is activated under
    claim: LedgerEntry | None = None  # the v1 claim it is charged to before its stop


def strays(live: Mapping[Key, Session], entries: Collection[Key]) -> dict[Key, Session]:
    """The listed sessions no open ledger row owns."""
    return {key: session for key, session in live.items() if key not in entries}


def decide_strays(
    found: Mapping[Key, Session],
    closed: Mapping[str, LedgerEntry],
    claims: Iterable[LedgerEntry],
    starting: Iterable[LedgerEntry],
    mode: UnmanagedMode,
    adopt_into: ProjectPolicy | None,
    now: datetime,
    options: SweepOptions,
) -> list[Stray]:
    """What to do with each stray session, in order: one still running under a closed or released
    row (`closed`, by session id) of its account is stopped; one young v1 requests (`starting`) may
    have made goes to `decide_at_work`; one a v1 claim may have made is charged to the oldest such
    claim's project and stopped; the rest were made outside the governor and go to the unmanaged
    `mode` (adopted into `adopt_into`). `claims` and `starting` come from `join`."""
    claims = sorted(claims, key=by_age)
    released = {key: closed[key[1]] for key in found if key[1] in closed and closed[key[1]].account == key[0]}
    # a v1 session names no project: every young request of its account may have made it
    at_work = {
        key: [p for p in starting if claim_matches(p, session, now)]
        for key, session in found.items()
        if key not in released
    }
    made = Counter((p.project, p.session_id) for requests in at_work.values() for p in requests)
    decided = []
    for key, session in found.items():
        ended = released.get(key)
        if ended is not None:
            decided.append(Stray(key, session, ended.project, decide_released(session, ended, options)))
            continue
        requests = at_work[key]
        if requests:  # a request at work first: a retry's fresh session must not be taken for its failed attempt's
            decided.append(decide_at_work(key, session, requests, made, now, options))
            continue
        claim = next((c for c in claims if claim_matches(c, session, now)), None)
        if claim is not None:
            decided.append(Stray(key, session, claim.project, decide_claimed(session, claim, options), claim=claim))
            continue
        decision = decide_unmanaged(session, mode, adopt_into, options)
        project = adopt_into.name if adopt_into is not None and decision.action is Action.ADOPT else ""
        decided.append(Stray(key, session, project, decision))
    return decided


def decide_at_work(
    key: Key,
    session: Session,
    requests: list[LedgerEntry],
    made: Mapping[tuple[str, str], int],
    now: datetime,
    options: SweepOptions,
) -> Stray:
    """A stray session that the young v1 `requests` (all projects) may have made; `made`: how many
    stray sessions each request (project, id) may have made. Activated under the request only when
    it is the one request that may have made it and that is the one session it may have made (the
    gate's own activation then finds it done). Otherwise nobody can tell whose it is: it is left as
    it is, not unmanaged, while the young rows hold its money; their gates may still activate their
    own, and past the grace they are claims, which stop what they match."""
    if len(requests) == 1 and made[(requests[0].project, requests[0].session_id)] == 1:
        (pending,) = requests
        return Stray(key, session, pending.project, decide_pending(pending, session, now), entry=pending)
    figures = {
        "status": session.status.value,
        "elapsed_minutes": minutes_figure(session.elapsed),
        "lease_minutes": minutes_figure(session.max_lease),
        "requests": [f"{p.project}/{p.session_id}" for p in requests],
    }
    return Stray(key, session, "", Decision(Action.LEAVE, AMBIGUOUS, figures, dry_run=options.dry_run))
