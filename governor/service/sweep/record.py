"""What a sweep records and tells: its audit rows (written before it acts, completed after), what
its stops and refusals saved, and the webhook events handed to the sender.

Savings: a refused extension saves one step at the session's rate; a governor stop saves the lease
it cut short. A stop's saving is recorded by `act` right after the close, when the final minutes
are known (`record_stop`); if the run died before that, the next run, completing the stop's audit
row, records it from the row it closed (`record_interrupted_stops`). All go through `store.save`,
once per session and kind, so a sweep that repeats a refusal (or dies and is run again) records
nothing twice. What to write and tell, the pure rules say (`governor.core.policy.sweep_steps`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from governor import telemetry
from governor.core.model import (
    PENDING_GRACE,
    UNKNOWN,
    AuditRecord,
    LedgerEntry,
    ProjectPolicy,
    SavingKind,
    lease_saving,
)
from governor.core.policy import sweep as rules
from governor.core.policy import sweep_steps as steps
from governor.service import audit
from governor.service.ports import SweepStore
from governor.service.sweep.items import Item
from governor.service.webhooks import event_data

log = logging.getLogger("governor.sweep")


# ---------------------------------------------------------------- audit
def write_intents(store: SweepStore, items: list[Item], now: datetime, errors: list[str]) -> None:
    """Before acting: each action's audit row, outcome "unknown", so a run that dies while ARR acts
    leaves a trace that the next run completes (`complete_unfinished`). If the write fails the
    actions still run (money before paperwork) and their rows are written after, as before."""
    acting = [item for item in items if steps.intends(item.decision)]
    if not acting:
        return
    try:
        written = audit.intend(store, [_record(item, now, UNKNOWN) for item in acting])
    except Exception as exc:
        errors.append(f"audit: {type(exc).__name__}")
        log.warning("audit intent write failed (%s); acting anyway", type(exc).__name__)
        return
    for item, record in zip(acting, written, strict=True):
        item.audit_key = record.key


def write_audit(store: SweepStore, items: list[Item], now: datetime, errors: list[str]) -> None:
    """After acting: the outcome into the rows written before, new rows for decisions that did not act."""
    records: list[AuditRecord] = []
    for item in items:
        decision = item.decision
        if not steps.audited(decision):
            continue
        record = _record(item, now, item.outcome)
        records.append(record)
        if decision.warning:
            records.append(
                AuditRecord(**_common(item, now), action="warn", reason=decision.warning, figures=record.figures)
            )
    try:
        audit.complete(store, records)
    except Exception as exc:
        errors.append(f"audit: {type(exc).__name__}")
        log.warning("audit write failed (%s); decisions are in the sweep log", type(exc).__name__)


def complete_unfinished(
    store: SweepStore, since: datetime, live, entries, own: set[str], now: datetime, errors: list[str]
) -> int:
    """Give the rows a dead run left "unknown" the outcome this run sees (`steps.complete_interrupted`),
    and record the savings of the stops among them that were done (`record_interrupted_stops`).
    `live` and `entries` are this run's reads, taken before it acted; `own`: this run's own row keys,
    never judged by itself. The gate's stop and extend rows too, once older than any gate request
    lasts (`steps.gate_row_judged`; younger ones may still be at work): they are looked for over the
    same window moved back by that grace. Returns how many rows were completed."""
    try:
        unfinished = [r for r in store.unfinished_audit(since) if r.key not in own]
        gate = store.unfinished_audit(since - PENDING_GRACE, source="gate")
        unfinished += [r for r in gate if steps.gate_row_judged(r, now)]
    except Exception as exc:
        errors.append(f"audit: {type(exc).__name__}")
        return 0
    if not unfinished:
        return 0
    sessions = {session_id: session for (_, session_id), session in live.items()}
    rows = {session_id: entry for (_, session_id), entry in entries.items()}
    completed = [
        steps.complete_interrupted(record, sessions.get(record.session_id), rows.get(record.session_id))
        for record in unfinished
    ]
    record_interrupted_stops(store, [r for r in completed if r.outcome == steps.OK], now, errors)
    try:
        store.complete_audit(completed)
    except Exception as exc:
        errors.append(f"audit: {type(exc).__name__}")
        return 0
    return len(completed)


def _common(item: Item, now: datetime) -> dict:
    return {
        "at": now,
        "source": "sweep",
        "project": item.project,
        "session_id": item.session_id,
        "dry_run": item.decision.dry_run,
        "caller": item.entry.caller if item.entry is not None else None,
    }


def _record(item: Item, now: datetime, outcome: str) -> AuditRecord:
    figures = dict(item.decision.figures)
    if item.error:
        figures["error"] = item.error
    return AuditRecord(
        **_common(item, now),
        action=item.decision.action.value,
        reason=item.decision.reason,
        figures=figures,
        outcome=outcome,
        ms_cv=item.ms_cv,
        key=item.audit_key,
    )


# ---------------------------------------------------------------- savings
def record_refusals(store: SweepStore, items: list[Item], now: datetime, errors: list[str]) -> int:
    """Record the saving of every refused extension not yet recorded (`steps.refusal_saving`);
    returns how many were written."""
    written = 0
    for item in items:
        amount = steps.refusal_saving(item.decision, item.entry, item.policy)
        if not amount:
            continue  # no saving, or recorded by an earlier sweep
        try:
            store.save(item.project, item.session_id, SavingKind.EXTENSION, amount, now)
            telemetry.add(telemetry.SAVED, amount, project=item.project, kind=SavingKind.EXTENSION.value)
            written += 1
        except Exception as exc:  # the next sweep, refusing again, records it
            errors.append(f"saving {item.session_id}: {type(exc).__name__}")
    return written


def record_stop(store: SweepStore, closed: LedgerEntry, now: datetime) -> None:
    """The saving of a governor stop whose ledger row is `closed`."""
    _save_lease(store, closed, lease_saving(closed.rate, closed.lease, closed.charged_minutes), now)


def record_interrupted_stops(
    store: SweepStore, records: Iterable[AuditRecord], now: datetime, errors: list[str]
) -> int:
    """For the stops a dead run left unrecorded and this run found done (`records`, completed as
    "ok"), the saving they would have recorded (`steps.stop_saving_due`); returns how many were
    written."""
    written = 0
    for record in records:
        if not rules.paid_stop(record):
            continue  # saves nothing: its row is not read
        try:
            entry = store.get_entry(record.project, record.session_id)
            amount = steps.stop_saving_due(record, entry)
            if entry is not None and amount:
                _save_lease(store, entry, amount, now)
                written += 1
        except Exception as exc:
            errors.append(f"saving {record.session_id}: {type(exc).__name__}")
    return written


def _save_lease(store: SweepStore, entry: LedgerEntry, amount: int, now: datetime) -> None:
    if amount:
        store.save(entry.project, entry.session_id, SavingKind.LEASE, amount, now)
        telemetry.add(telemetry.SAVED, amount, project=entry.project, kind=SavingKind.LEASE.value)


# ---------------------------------------------------------------- webhooks
def notify(store: SweepStore, webhooks, items: list[Item], projects: dict[str, ProjectPolicy], now: datetime) -> None:
    """Hand each decision's webhook events (`steps.events`) to the sender, signed with its project's secret."""
    if webhooks is None:
        return
    secrets: dict[str, str | None] = {}
    for item in items:
        policy = projects.get(item.project)
        if policy is None or not policy.webhook_url:
            continue
        for event, reason in steps.events(item.decision, item.outcome):
            if item.project not in secrets:
                secrets[item.project] = _secret(store, item.project)
            decision = item.decision
            payload = event_data(
                event, item.project, item.session_id, reason, decision.figures, now, decision.dry_run, item.outcome
            )
            webhooks.send(policy.webhook_url, secrets[item.project], payload)


def _secret(store: SweepStore, project: str) -> str | None:
    try:
        return store.webhook_secret(project)
    except Exception:
        return None
