"""What the sweep's refusals avoided: a refused extension saves one step at the session's rate.

A governor stop's saving (the lease it cut short) is recorded by `sweep_actions` right after the
close, when the final minutes are known. Both go through `store.save`, once per session and kind,
so a sweep that repeats a refusal (or dies and is run again) records nothing twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from governor import telemetry
from governor.model import SavingKind, extension_saving
from governor.service.ports import StorePort
from governor.service.sweep_items import Item

log = logging.getLogger("governor.sweep")

REFUSED_EXTENSION = ("extension-refused-budget", "extension-refused-cap")


def record_refusals(store: StorePort, items: list[Item], now: datetime, errors: list[str]) -> int:
    """Record the saving of every refused extension not yet recorded; returns how many were written."""
    written = 0
    for item in items:
        entry, policy, decision = item.entry, item.policy, item.decision
        if decision.reason not in REFUSED_EXTENSION or entry is None or policy is None or decision.dry_run:
            continue
        amount = extension_saving(entry.rate, policy.extension_step)
        if entry.saved_extension >= amount:
            continue  # recorded by an earlier sweep
        try:
            store.save(item.project, item.session_id, SavingKind.EXTENSION, amount, now)
            telemetry.add(telemetry.SAVED, amount, project=item.project, kind=SavingKind.EXTENSION.value)
            written += 1
        except Exception as exc:  # the next sweep, refusing again, records it
            errors.append(f"saving {item.session_id}: {type(exc).__name__}")
    return written
