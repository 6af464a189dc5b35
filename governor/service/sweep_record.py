"""What a sweep tells afterwards: its audit rows, and the webhook events handed to the sender."""

from __future__ import annotations

import logging
from datetime import datetime

from governor.model import AuditRecord, ProjectPolicy
from governor.policy.sweep import Action
from governor.service.ports import StorePort
from governor.service.sweep_items import Item

log = logging.getLogger("governor.sweep")


def write_audit(store: StorePort, items: list[Item], now: datetime, errors: list[str]) -> None:
    records = []
    for item in items:
        decision = item.decision
        if decision.action is Action.LEAVE and decision.reason != "lookup-failed":
            continue
        figures = dict(decision.figures)
        if item.error:
            figures["error"] = item.error
        common = {"at": now, "source": "sweep", "project": item.project, "session_id": item.session_id}
        common["dry_run"] = decision.dry_run
        common["caller"] = item.entry.caller if item.entry is not None else None
        records.append(
            AuditRecord(
                **common,
                action=decision.action.value,
                reason=decision.reason,
                figures=figures,
                outcome=item.outcome,
                ms_cv=item.ms_cv,
            )
        )
        if decision.warning:
            records.append(AuditRecord(**common, action="warn", reason=decision.warning, figures=figures))
    if not records:
        return
    try:
        store.append_audit(records)
    except Exception as exc:
        errors.append(f"audit: {type(exc).__name__}")
        log.warning("audit write failed (%s); decisions are in the sweep log", type(exc).__name__)


def notify(store: StorePort, webhooks, items: list[Item], projects: dict[str, ProjectPolicy], now: datetime) -> None:
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


def _secret(store: StorePort, project: str) -> str | None:
    try:
        return store.webhook_secret(project)
    except Exception:
        return None
