"""What a sweep tells: its audit rows (written before it acts, completed after), and the webhook
events handed to the sender."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from governor.core.model import PENDING_GRACE, UNKNOWN, AuditRecord, ProjectPolicy
from governor.core.policy import sweep as rules
from governor.core.policy.sweep import Action
from governor.service import audit
from governor.service.ports import SweepStore
from governor.service.sweep_items import Item
from governor.service.sweep_savings import record_interrupted_stops

log = logging.getLogger("governor.sweep")


def write_intents(store: SweepStore, items: list[Item], now: datetime, errors: list[str]) -> None:
    """Before acting: each action's audit row, outcome "unknown", so a run that dies while ARR acts
    leaves a trace that the next run completes (`complete_unfinished`). If the write fails the
    actions still run (money before paperwork) and their rows are written after, as before."""
    acting = [item for item in items if item.decision.acts and not item.decision.dry_run]
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
        if decision.action is Action.LEAVE and decision.reason != "lookup-failed":
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
    """Give the rows a dead run left "unknown" the outcome this run sees (see
    `rules.interrupted_outcome`), and record the savings of the stops among them that were done
    (`record_interrupted_stops`). `live` and `entries` are this run's reads, taken before it acted;
    `own`: this run's own row keys, never judged by itself. The gate's stop and extend rows too,
    once older than any gate request lasts (younger ones may still be at work): they are looked
    for over the same window moved back by that grace. Returns how many rows were completed."""
    try:
        unfinished = [r for r in store.unfinished_audit(since) if r.key not in own]
        gate = store.unfinished_audit(since - PENDING_GRACE, source="gate")
        unfinished += [r for r in gate if r.at <= now - PENDING_GRACE]
    except Exception as exc:
        errors.append(f"audit: {type(exc).__name__}")
        return 0
    if not unfinished:
        return 0
    sessions = {session_id: session for (_, session_id), session in live.items()}
    rows = {session_id: entry for (_, session_id), entry in entries.items()}
    completed = []
    for record in unfinished:
        outcome = rules.interrupted_outcome(record, sessions.get(record.session_id), rows.get(record.session_id))
        figures = {**record.figures, "completed": "next-sweep"}
        if outcome != "ok":
            figures["error"] = "interrupted"
        completed.append(replace(record, outcome=outcome, figures=figures))
    record_interrupted_stops(store, [r for r in completed if r.outcome == "ok"], now, errors)
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


def notify(store: SweepStore, webhooks, items: list[Item], projects: dict[str, ProjectPolicy], now: datetime) -> None:
    if webhooks is None:
        return
    secrets: dict[str, str | None] = {}
    for item in items:
        policy = projects.get(item.project)
        if policy is None or not policy.webhook_url:
            continue
        events = []
        done = item.outcome == "ok" or item.decision.dry_run
        if item.decision.event and (done or item.decision.event in ("warn", "refused")):
            events.append((item.decision.event, item.decision.reason))
        if item.decision.warning:
            events.append(("warn", item.decision.warning))
        for event, reason in events:
            if item.project not in secrets:
                secrets[item.project] = _secret(store, item.project)
            payload = {
                "event": event,
                "project": item.project,
                "sessionId": item.session_id,
                "reason": reason,
                "figures": item.decision.figures,
                "dryRun": item.decision.dry_run,
                "outcome": item.outcome,
                "at": now.isoformat(),
            }
            webhooks.send(policy.webhook_url, secrets[item.project], payload)


def _secret(store: SweepStore, project: str) -> str | None:
    try:
        return store.webhook_secret(project)
    except Exception:
        return None
