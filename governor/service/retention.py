"""The retention use case: move old closed ledger rows to history, delete old audit rows.

Run daily by the timer in governor/functions/retention.py (and `python -m governor retention`).
Bounded: at most `max_rows` of each per run; a backlog drains over several days. Crash-safe and
idempotent because the store's move is copy, verify, delete (governor/store/retention.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from governor import telemetry
from governor.service.ports import HistoryPort

log = logging.getLogger("governor.retention")


@dataclass(frozen=True)
class RetentionConfig:
    history_days: int = 90
    audit_days: int = 400
    max_rows: int = 5000

    @classmethod
    def from_settings(cls, settings) -> RetentionConfig:
        return cls(
            history_days=settings.get("GOVERNOR_HISTORY_DAYS"),
            audit_days=settings.get("GOVERNOR_AUDIT_DAYS"),
            max_rows=settings.get("GOVERNOR_RETENTION_MAX_ROWS"),
        )


def run_retention(store: HistoryPort, clock: Callable[[], datetime], config: RetentionConfig | None = None) -> dict:
    config = config or RetentionConfig()
    now = clock()
    started = time.monotonic()
    history = store.move_closed(now - timedelta(days=config.history_days), config.max_rows)
    audit = store.purge_audit(now - timedelta(days=config.audit_days), config.max_rows)
    # an attempt's capacity failure is a record of what happened, as its audit rows are: kept as long
    failures = store.purge_capacity_failures(now - timedelta(days=config.audit_days), config.max_rows)
    report = {
        "at": now.isoformat(),
        "moved": history["moved"],
        "changed": history["changed"],
        "auditDeleted": audit["deleted"],
        "capacityFailuresDeleted": failures["deleted"],
        "more": bool(history["more"] or audit["more"] or failures["more"]),
        "durationMs": round((time.monotonic() - started) * 1000),
    }
    log.info(
        "retention moved %s ledger rows, deleted %s audit rows",
        report["moved"],
        report["auditDeleted"],
        extra=telemetry.attributes(
            "governor.retention",
            outcome="more" if report["more"] else "ok",
            moved=report["moved"],
            audit_deleted=report["auditDeleted"],
            capacity_failures_deleted=report["capacityFailuresDeleted"],
        ),
    )
    return report
