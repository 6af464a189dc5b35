"""What the sweep tells the operator's tools: metrics and structured log records, through the
`governor.telemetry` interface (never the SDK). One call at the end of a sweep.

Logs carry their dimensions in `extra`, named as the spans' and metrics' attributes are
(`governor.project`, `governor.sweep.failed`...), which Azure Monitor turns into custom
dimensions; the alert rules in infra/ query the `sweep finished` record and the metrics named in
`governor.telemetry`.
"""

from __future__ import annotations

import logging
from collections import Counter

from governor import telemetry
from governor.core.policy import sweep_steps as steps
from governor.core.policy.sweep import Action
from governor.service.sweep.items import Item

log = logging.getLogger("governor.sweep")

SWEEP_FINISHED = "sweep finished"  # the alert rules in infra/ match this message
SWEEP_NAMESPACE = "governor.sweep"  # the sweep span's attributes and its summary record's
_COUNTED = {Action.STOP: telemetry.STOPPED, Action.EXTEND: telemetry.EXTENDED}


def sweep_finished(report: dict, items: list[Item], snapshot, usage, governed: Counter) -> None:
    """`usage`: per project and period, as if metered now; `governed`: ARR minutes this sweep's
    metering charged, per project (meter.meter). What is logged and counted, the pure rules say
    (`steps.logged`, `steps.counted`, `steps.budget_utilization`)."""
    outcome = report.get("outcome", "ok")
    dry_run = bool(report.get("dryRun"))
    for item in items:
        decision = item.decision
        if not steps.logged(decision):
            continue
        log.info(
            "sweep %s %s: %s (%s)",
            decision.action.value,
            item.session_id,
            decision.reason,
            item.outcome,
            extra={
                **telemetry.dimensions(project=item.project, reason=decision.reason, dry_run=decision.dry_run),
                **telemetry.attributes("governor.decision", action=decision.action.value, outcome=item.outcome),
                "governor.session.id": item.session_id,
            },
        )
        metric = _COUNTED.get(decision.action)
        if metric and steps.counted(decision, item.outcome):
            telemetry.add(metric, project=item.project, reason=decision.reason)
    for project, minutes in governed.items():
        telemetry.add(telemetry.METERED_TIME, minutes * 60, project=project)  # seconds, the unit of durations
    open_by_project = Counter(e.project for e in snapshot.open_entries)
    for project in snapshot.projects:
        telemetry.gauge(telemetry.OPEN_SESSIONS, open_by_project.get(project, 0), project=project)
        for period, current in usage.get(project, {}).items():
            telemetry.gauge(telemetry.COST, current.spent, project=project, period=period.value)
            stored = snapshot.usage.get((project, period))
            telemetry.gauge(telemetry.SAVINGS, stored.saved if stored else 0, project=project, period=period.value)
            used = steps.budget_utilization(current)
            if used is not None:
                telemetry.gauge(telemetry.BUDGET_UTILIZATION, used, project=project, period=period.value)
    failed = int(report.get("failed", 0))
    telemetry.add(telemetry.SWEEPS, outcome=outcome, dry_run=dry_run)
    telemetry.record(telemetry.SWEEP_DURATION, report.get("durationMs", 0) / 1000, outcome=outcome)  # seconds
    telemetry.add(telemetry.SWEEP_FAILED_ACTIONS, failed)
    log.info(
        "%s: %s, %s sessions, %s decisions, %s failed actions",
        SWEEP_FINISHED,
        outcome,
        report.get("sessions"),
        report.get("decisions"),
        failed,
        extra={
            **telemetry.dimensions(outcome=outcome, dry_run=dry_run),
            **telemetry.attributes(
                SWEEP_NAMESPACE,
                sessions=report.get("sessions"),
                decisions=report.get("decisions"),
                failed=failed,
                counts=", ".join(f"{k} {v}" for k, v in report.get("counts", {}).items()),
                metered=report.get("metered"),
                duration=report.get("durationMs", 0) / 1000,  # seconds, as the metric
                errors="; ".join(report.get("errors", ()))[:1000],
            ),
        },
    )
