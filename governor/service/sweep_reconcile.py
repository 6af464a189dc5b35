"""The sweep's join: ARR's lists against the ledger's open entries.

Listed sessions are managed (pending ones too); a vanished session or a due pending admission is
looked up by id; a live session no open row owns is stopped if a closed row or a v1 claim says the
governor asked for it, else unmanaged. Each becomes an `Item` with its decision.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import datetime

from governor.core.model import LedgerEntry, LedgerState, Session
from governor.core.policy import sweep as rules
from governor.core.policy.sweep import Action, Decision, SweepOptions
from governor.service.ports import ArrPort, NotFound, ServiceError, SweepStore
from governor.service.sweep_items import Item, failure, item_for


def list_all(arr: Mapping[str, ArrPort], errors: list[str], pool) -> tuple[dict[tuple[str, str], Session], set[str]]:
    """Every account's active sessions by (account, id), and the accounts whose list answered."""

    def list_one(name: str):
        try:
            return name, arr[name].list()
        except ServiceError as exc:
            errors.append(f"list {name}: {exc}"[:300])
            return name, None

    live: dict[tuple[str, str], Session] = {}
    listed_ok: set[str] = set()
    for name, sessions in pool.map(list_one, list(arr)):
        if sessions is None:
            continue
        listed_ok.add(name)
        for session in sessions:
            if session.status.active:
                live[(name, session.id)] = session if session.account == name else replace(session, account=name)
    return live, listed_ok


Key = tuple[str, str]  # (account, session id)
Claims = tuple[list[LedgerEntry], list[LedgerEntry]]  # (claims, starting)


def join(
    entries: Mapping[Key, LedgerEntry],
    live: Mapping[Key, Session],
    listed_ok: set[str],
    now: datetime,
    options: SweepOptions,
    v1_accounts: Collection[str] = frozenset(),
) -> tuple[list[Item], list[tuple[LedgerEntry, Session]], list[LedgerEntry], Claims]:
    """Split the ledger's open entries: managed (listed, pending ones too: governed from their first
    sweep), to look up (vanished, or pending past the grace), and v1 claims to match."""
    items: list[Item] = []
    managed: list[tuple[LedgerEntry, Session]] = []
    to_look_up: list[LedgerEntry] = []
    claims: list[LedgerEntry] = []  # v1 rows whose create failed or whose gate is gone: stop what they made
    starting: list[LedgerEntry] = []  # v1 rows whose gate may still be at work: activate what they made
    for key, entry in entries.items():
        session = live.get(key)
        if entry.account not in listed_ok:
            continue  # account unknown or its list failed: decide nothing about it this run
        if session is not None:
            managed.append((entry, session))
        elif entry.state is not LedgerState.PENDING:
            to_look_up.append(entry)
        elif entry.account in v1_accounts:  # ARR picked the id: the row cannot be looked up by it
            if not rules.is_claim(entry, now, options):
                starting.append(entry)
                continue
            claims.append(entry)  # an expired claim still matches what this sweep lists, then goes
            if rules.claim_expired(entry, now):
                items.append(item_for(entry, rules.decide_claim_expired(entry, now)))
        elif rules.pending_due(entry, now, options):
            to_look_up.append(entry)
    claims.sort(key=lambda claim: claim.requested_at)
    starting.sort(key=lambda entry: entry.requested_at)
    return items, managed, to_look_up, (claims, starting)


def look_up(client: ArrPort, entry: LedgerEntry, now: datetime, errors: list[str]) -> Item:
    """GET a pending reservation's or a vanished session's id and decide from what ARR says."""
    try:
        found = client.get(entry.session_id)
    except NotFound:
        found = None
    except ServiceError as exc:
        errors.append(f"get {entry.session_id}: {exc}"[:300])
        decision = Decision(Action.LEAVE, "lookup-failed", {"error": failure(exc)})
        return Item(entry.project, entry.session_id, entry.account, decision, None, entry, ms_cv=exc.ms_cv)
    if entry.state is LedgerState.PENDING:
        return item_for(entry, rules.decide_pending(entry, found, now), found)
    return item_for(entry, rules.decide_vanished(entry, found), found)


def unowned(store: SweepStore, live, entries, claims, projects, options, config, now, errors) -> list[Item]:
    """Listed sessions no open row owns: one still running under a closed or released row is
    stopped; one a v1 request still at work may have made is activated under that request's row
    (the gate's own activation then finds it done); one a v1 claim may have made is charged to the
    claim's project and stopped; the rest were made outside the governor and go to the unmanaged
    mode (`config`: mode, adopt project). `claims`: (claims, starting) from `join`."""
    strays = {key: session for key, session in live.items() if key not in entries}
    if not strays:
        return []
    try:
        closed = store.find_closed(session_id for _, session_id in strays)
    except Exception as exc:  # cannot tell ours from others: decide nothing about them this run
        errors.append(f"closed rows: {type(exc).__name__}")
        return []
    mode, adopt_project = config
    adopt_into = projects.get(adopt_project or "")
    claims, starting = claims
    items = []
    for (account, session_id), session in strays.items():
        ended = closed.get(session_id)
        if ended is not None and ended.account == account:
            decision = rules.decide_released(session, ended, options)
            items.append(Item(ended.project, session_id, account, decision, session))
            continue
        # a request at work first: a retry's fresh session must not be taken for its failed attempt's
        pending = next((p for p in starting if rules.claim_matches(p, session, now)), None)
        if pending is not None:
            starting.remove(pending)  # one create, one session: a second match makes the row a claim
            claims.append(pending)
            items.append(item_for(pending, rules.decide_pending(pending, session, now), session))
            continue
        claim = next((c for c in claims if rules.claim_matches(c, session, now)), None)
        if claim is not None:
            decision = rules.decide_claimed(session, claim, options)
            items.append(Item(claim.project, session_id, account, decision, session, claim=claim))
            continue
        decision = rules.decide_unmanaged(session, mode, adopt_into, options)
        project = adopt_into.name if decision.action is Action.ADOPT else ""
        items.append(Item(project, session_id, account, decision, session))
    return items
