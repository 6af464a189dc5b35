"""The sweep's join: ARR's lists against the ledger's open entries.

Lists every account, reads what the join needs (a GET by id, the closed rows of stray sessions) and
turns the pure join's answers (`governor.core.policy.sweep_reconcile`) into `Item`s: listed sessions
are managed (pending ones too); a vanished session or a due pending admission is looked up by id; a
live session no open row owns is stopped if a closed row or a v1 claim says the governor asked for
it, activated under (or, while ambiguous, left to) a v1 request still at work, else unmanaged.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import datetime

from governor.core.model import LedgerEntry, Session
from governor.core.policy import sweep_reconcile as rules
from governor.core.policy.sweep import SweepOptions
from governor.core.policy.sweep_steps import failure
from governor.service.ports import ArrPort, NotFound, ServiceError, SweepStore
from governor.service.sweep.items import Item, item_for


def list_all(arr: Mapping[str, ArrPort], errors: list[str], pool) -> tuple[dict[tuple[str, str], Session], set[str]]:
    """Every account's active sessions by (account, id), and the accounts whose list answered.
    No account at all is an error, not an empty sweep: the health row must not say "ok" while
    nothing is governed."""
    if not arr:
        errors.append("no ARR account is configured (ARR_ACCOUNT_ID or GOVERNOR_ARR_ACCOUNTS)")

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


Key = rules.Key
Claims = tuple[list[LedgerEntry], list[LedgerEntry]]  # (claims, starting)


def join(
    entries: Mapping[Key, LedgerEntry],
    live: Mapping[Key, Session],
    listed_ok: set[str],
    now: datetime,
    options: SweepOptions,
    v1_accounts: Collection[str] = frozenset(),
) -> tuple[list[Item], list[tuple[LedgerEntry, Session]], list[LedgerEntry], Claims]:
    """The ledger's open entries split by `rules.join`: the items of expired claims (released),
    managed, to look up, and the v1 (claims, starting) to match."""
    joined = rules.join(entries, live, listed_ok, now, options, v1_accounts)
    items = [item_for(entry, decision) for entry, decision in joined.released]
    return items, joined.managed, joined.to_look_up, (joined.claims, joined.starting)


def look_up(client: ArrPort, entry: LedgerEntry, now: datetime, errors: list[str]) -> Item:
    """GET a pending reservation's or a vanished session's id and decide from what ARR says."""
    try:
        found = client.get(entry.session_id)
    except NotFound:
        found = None
    except ServiceError as exc:
        errors.append(f"get {entry.session_id}: {exc}"[:300])
        decision = rules.decide_lookup_failed(failure(exc))
        return Item(entry.project, entry.session_id, entry.account, decision, None, entry, ms_cv=exc.ms_cv)
    return item_for(entry, rules.decide_looked_up(entry, found, now), found)


def unowned(store: SweepStore, live, entries, claims, projects, options, config, now, errors) -> list[Item]:
    """Listed sessions no open row owns, decided by `rules.decide_strays` from the closed rows
    under their ids (`config`: unmanaged mode, adopt project; `claims`: (claims, starting) from
    `join`). When the closed rows cannot be read, nothing is decided about them this run."""
    found = rules.strays(live, entries)
    if not found:
        return []
    try:
        closed = store.find_closed(session_id for _, session_id in found)
    except Exception as exc:  # cannot tell ours from others: decide nothing about them this run
        errors.append(f"closed rows: {type(exc).__name__}")
        return []
    mode, adopt_project = config
    adopt_into = projects.get(adopt_project or "")
    claims, starting = claims
    items = []
    for stray in rules.decide_strays(found, closed, claims, starting, mode, adopt_into, now, options):
        if stray.entry is not None:  # activated under the v1 request's row
            items.append(item_for(stray.entry, stray.decision, stray.session))
            continue
        account, session_id = stray.key
        items.append(Item(stray.project, session_id, account, stray.decision, stray.session, claim=stray.claim))
    return items
