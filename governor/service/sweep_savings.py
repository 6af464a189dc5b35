"""What the sweep's stops and refusals avoided: a refused extension saves one step at the
session's rate; a governor stop saves the lease it cut short.

A stop's saving is recorded by `sweep_actions` right after the close, when the final minutes are
known (`record_stop`); if the run died before that, the next run, completing the stop's audit row,
records it from the row it closed (`record_interrupted_stops`). All go through `store.save`, once
per session and kind, so a sweep that repeats a refusal (or dies and is run again) records nothing
twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from governor import telemetry
from governor.core.model import AuditRecord, LedgerEntry, SavingKind, lease_saving
from governor.core.policy import sweep as rules
from governor.core.policy.extension import SWEEP_REFUSALS, refused_step_saving
from governor.core.policy.sweep import Action
from governor.service.ports import SweepStore
from governor.service.sweep_items import Item

log = logging.getLogger("governor.sweep")

# A refusal leaves the session as it is (warned or not); a stop for "closed-hours" saves its lease.
REFUSALS = (Action.WARN, Action.LEAVE)


def record_refusals(store: SweepStore, items: list[Item], now: datetime, errors: list[str]) -> int:
    """Record the saving of every refused extension not yet recorded; returns how many were written."""
    written = 0
    for item in items:
        entry, policy, decision = item.entry, item.policy, item.decision
        if decision.action not in REFUSALS or entry is None or policy is None or decision.dry_run:
            continue
        limit = SWEEP_REFUSALS.get(decision.reason)
        amount = refused_step_saving(limit, entry.rate, policy, entry.saved_extension)
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
    "ok"), the saving they would have recorded (`rules.interrupted_stop_saving`); returns how many
    were written."""
    written = 0
    for record in records:
        if not rules.paid_stop(record):
            continue
        try:
            entry = store.get_entry(record.project, record.session_id)
            amount = rules.interrupted_stop_saving(record, entry)
            if entry is not None and amount and amount > entry.saved_lease:  # no row: amount is 0
                _save_lease(store, entry, amount, now)
                written += 1
        except Exception as exc:
            errors.append(f"saving {record.session_id}: {type(exc).__name__}")
    return written


def _save_lease(store: SweepStore, entry: LedgerEntry, amount: int, now: datetime) -> None:
    if amount:
        store.save(entry.project, entry.session_id, SavingKind.LEASE, amount, now)
        telemetry.add(telemetry.SAVED, amount, project=entry.project, kind=SavingKind.LEASE.value)
