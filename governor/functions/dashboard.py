"""The usage dashboard as HTML: GET /api/dashboard (admin key) for every project, and
GET /api/projects/{project}/dashboard (the project's caller key in X-Api-Key) for one."""

from __future__ import annotations

import azure.functions as func

from governor.core.errors import Refusal
from governor.functions import http

# The page has no script and loads nothing; these headers keep it so and keep it out of caches and frames.
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

bp = func.Blueprint()


REFRESH_RANGE = (10, 3600)  # seconds accepted in ?refresh=


def refresh_of(req: func.HttpRequest) -> int | None:
    """The opt-in reload interval from `?refresh=SECONDS`, naming the field when it is bad."""

    text = req.params.get("refresh")
    if text is None or text == "":
        return None
    low, high = REFRESH_RANGE
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise Refusal("bad-request", f"refresh: must be whole seconds from {low} to {high}", {"field": "refresh"})
    return int(text)


def _page(
    req: func.HttpRequest, policies=None, scope: str | None = None, caller: str | None = None
) -> func.HttpResponse:
    from governor.bootstrap import get_context  # lazy: cold start (bootstrap loads governor.core.model)
    from governor.dashboard.collect import collect  # lazy: cold start (governor.dashboard loads the core)
    from governor.dashboard.forecast import sweep_forecast  # lazy: cold start (governor.dashboard loads the core)
    from governor.dashboard.page import CSP, render_page  # lazy: cold start (governor.dashboard loads the core)
    from governor.service.health import stale_after  # lazy: cold start (governor.service)
    from governor.service.sweep import SweepConfig  # lazy: cold start (governor.service)

    refresh = refresh_of(req)
    context = get_context()
    settings = context.settings
    sweep = SweepConfig.from_settings(settings)  # the page forecasts what the sweep would do
    now = context.clock()
    board = collect(
        context.store,
        now,
        forecast=sweep_forecast(warn_before=sweep.warn_before, dry_run=sweep.dry_run),
        stale_after=stale_after(
            settings.get("GOVERNOR_SWEEP_SCHEDULE"), settings.get("GOVERNOR_HEALTH_STALE_INTERVALS"), now
        ),
        policies=policies,
        scope=scope,
        caller=caller,
    )
    return func.HttpResponse(
        render_page(board, refresh),
        status_code=200,
        mimetype="text/html",
        charset="utf-8",
        headers={**HEADERS, "Content-Security-Policy": CSP},
    )


@bp.route(route="dashboard", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
def dashboard(req: func.HttpRequest) -> func.HttpResponse:
    return http.serve(req, lambda: _page(req))


@bp.route(route="projects/{project}/dashboard", methods=["GET"])
def project_dashboard(req: func.HttpRequest) -> func.HttpResponse:
    def action() -> func.HttpResponse:
        from governor.bootstrap import get_context  # lazy: cold start (bootstrap loads governor.core.model)
        from governor.service.gate import GateService  # lazy: cold start (governor.service)

        context = get_context()
        gate = GateService(context.store, context.arr, context.clock)
        policy, who = gate.authenticate(req.route_params.get("project", ""), http.caller(req))
        return _page(req, [policy], scope=policy.name, caller=who.sees_only)

    return http.serve(req, action)
