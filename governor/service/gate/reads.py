"""A project's sessions as its caller sees them: one session (polled by apps until Ready) and the list."""

from __future__ import annotations

from collections.abc import Mapping

from governor.core.model import LedgerEntry, LedgerState, Session
from governor.core.policy import gate as rules
from governor.service.gate.attempts import found, placement_view, resolve
from governor.service.gate.base import Caller, Gate, list_key
from governor.service.gate.views import budget_view


def get_session(gate: Gate, project: str, caller: Caller, session_id: str) -> dict:
    """Polled by apps until Ready: ARR is read through `reads` (shared, at most its bound old)."""
    policy, who = gate.authenticate(project, caller)
    rules.check_session_id(session_id)
    entry, usage = gate.store.entry_with_usage(project, session_id, gate.clock(), policy)
    entry = found(entry, session_id)
    who.may_act_on(entry)
    session, age = gate.seen(entry)
    # a poll that finds the attempt ended for want of capacity settles it, and with autoRetry
    # starts the next attempt: the id polled leads to the attempt that stands for it now
    current = resolve(gate, policy, entry, session, age, start=True)
    if current.failed:
        usage = gate.current_usage(policy, gate.clock())
    view = gate.view(policy, current.entry, current.session, usage)
    return {**view, **placement_view(gate, policy, current), "arrViewAgeSeconds": current.age}


def list_sessions(gate: Gate, project: str, caller: Caller, include_closed: bool = False) -> dict:
    policy, who = gate.authenticate(project, caller)
    entries = [e for e in gate.store.list_entries(project, include_closed=include_closed) if who.sees(e)]
    live: dict[str, Session] = {}
    ages: dict[str, float] = {}
    for account in sorted({e.account for e in entries if e.state is not LedgerState.CLOSED}):
        client = gate.client(account)
        seen = gate.reads.read(list_key(account), client.list)
        live.update({s.id: s for s in seen.value})
        ages[account] = round(seen.age, 1)
    usage = gate.current_usage(policy, gate.clock())
    views = [
        {**gate.view(policy, e, live.get(e.session_id), usage), "arrViewAgeSeconds": _age_of(e, ages)} for e in entries
    ]
    return {"project": project, "sessions": views, **budget_view(policy, usage)}


def _age_of(entry: LedgerEntry, ages: Mapping[str, float]) -> float | None:
    return None if entry.state is LedgerState.CLOSED else ages.get(entry.account)
