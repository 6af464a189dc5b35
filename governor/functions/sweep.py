"""The timer that runs the sweep on GOVERNOR_SWEEP_SCHEDULE (NCRONTAB, UTC)."""

from __future__ import annotations

import logging

import azure.functions as func

from governor.functions import http

bp = func.Blueprint()
log = logging.getLogger("governor.sweep")


@bp.timer_trigger(arg_name="timer", schedule="%GOVERNOR_SWEEP_SCHEDULE%", run_on_startup=False, use_monitor=True)
def sweep(timer: func.TimerRequest) -> None:
    if timer.past_due:
        log.warning("sweep timer is past due; running now (every step is idempotent)")
    from governor.bootstrap import get_context  # lazy: cold start (bootstrap loads governor.core.model)
    from governor.service.sweep import Sweeper  # lazy: cold start (governor.service)

    context = get_context()  # configures telemetry: the invocation's span comes after
    with http.invocation("sweep", "timer", **{"faas.cron": context.settings.get("GOVERNOR_SWEEP_SCHEDULE")}):
        sweeper = Sweeper.from_context(context)
        sweeper.run()
        if sweeper.webhooks is not None:
            sweeper.webhooks.drain(timeout=sweeper.config.webhook_timeout * 3 + 2)
