"""The sweep's join: ARR's lists against the ledger's open entries.

Listed sessions are managed; a due pending admission or a vanished session is looked up by id;
a live session the ledger does not know is unmanaged. Each becomes an `Item` with its decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from governor.model import LedgerEntry, LedgerState, ProjectPolicy, Session, UnmanagedMode
from governor.policy import sweep as rules
from governor.policy.sweep import Action, Decision
from governor.service.ports import ArrPort, NotFound, ServiceError
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


def join(entries, live, listed_ok, now, options):
    """Split the ledger's open entries: managed (listed, pending ones too), to look up (vanished,
    or pending past the grace and not listed)."""
    items: list[Item] = []
    managed: list[tuple[LedgerEntry, Session]] = []
    to_look_up: list[LedgerEntry] = []
    for key, entry in entries.items():
        session = live.get(key)
        if entry.account not in listed_ok:
            continue  # account unknown or its list failed: decide nothing about it this run
        if entry.state is LedgerState.PENDING:
            if session is not None:  # ARR lists it: the create happened; governed from this sweep
                managed.append((entry, session))
            elif rules.pending_due(entry, now, options):
                to_look_up.append(entry)
        elif session is None:
            to_look_up.append(entry)
        else:
            managed.append((entry, session))
    return items, managed, to_look_up


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


def unmanaged(
    live, entries, projects: Mapping[str, ProjectPolicy], options, mode: UnmanagedMode, adopt_project: str | None
) -> list[Item]:
    adopt_into = projects.get(adopt_project or "")
    items = []
    for key, session in live.items():
        if key in entries:
            continue
        decision = rules.decide_unmanaged(session, mode, adopt_into, options)
        project = adopt_into.name if decision.action is Action.ADOPT else ""
        items.append(Item(project, session.id, key[0], decision, session))
    return items
