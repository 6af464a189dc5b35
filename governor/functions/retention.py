"""The daily retention timer: old closed ledger rows to history, old audit rows deleted."""

from __future__ import annotations

import logging

import azure.functions as func

from governor.functions import http

bp = func.Blueprint()
log = logging.getLogger("governor.retention")

RETENTION_SCHEDULE = "0 30 3 * * *"  # 03:30 UTC daily, away from the top of the hour


@bp.timer_trigger(arg_name="timer", schedule=RETENTION_SCHEDULE, run_on_startup=False, use_monitor=True)
def retention(timer: func.TimerRequest) -> None:
    from governor.bootstrap import get_context  # lazy: cold start (bootstrap loads governor.core.model)
    from governor.service.retention import RetentionConfig, run_retention  # lazy: cold start (governor.service)

    context = get_context()  # configures telemetry: the invocation's span comes after
    with http.invocation("retention", "timer", **{"faas.cron": RETENTION_SCHEDULE}):
        run_retention(context.store, context.clock, RetentionConfig.from_settings(context.settings))
