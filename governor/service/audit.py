"""The audit pattern, once, for the gate and the sweep: an action ARR is asked to do gets its row
before the call, outcome "unknown", and its outcome after. A process that dies in between leaves a
row the next sweep completes from what ARR shows (`complete_unfinished` in the sweep's record step).

These raise when the table does; the callers decide what a failed write costs (never the action:
money before paperwork)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from governor.core.model import UNKNOWN, AuditRecord
from governor.service.ports import AuditPort


def write(store: AuditPort, records: Sequence[AuditRecord]) -> list[AuditRecord]:
    """Rows of what is done (or decided), returned with their keys."""
    if not records:
        return []
    keys = store.append_audit(list(records))
    return [replace(record, key=key) for record, key in zip(records, keys, strict=True)]


def intend(store: AuditPort, records: Sequence[AuditRecord]) -> list[AuditRecord]:
    """Before acting: the rows, outcome "unknown", returned with their keys."""
    return write(store, [replace(record, outcome=UNKNOWN) for record in records])


def complete(store: AuditPort, records: Sequence[AuditRecord]) -> None:
    """After acting: each outcome into its intent's row, in place; a record whose intent was never
    written (its write failed, or nothing was intended) becomes a new row."""
    done = [record for record in records if record.key]
    new = [record for record in records if not record.key]
    if done:
        store.complete_audit(done)
    if new:
        store.append_audit(new)
