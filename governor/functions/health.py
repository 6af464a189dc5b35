"""GET /api/health (anonymous): version, last sweep, and whether storage and ARR answer."""

from __future__ import annotations

import azure.functions as func

from governor import __version__
from governor.functions import http

bp = func.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    def action():
        from governor.bootstrap import get_context  # lazy: cold start (bootstrap loads governor.core.model)
        from governor.service.health import health as service_health  # lazy: cold start (governor.service)

        context = get_context()
        healthy, report = service_health(
            context.store,
            context.arr,
            context.clock,
            context.settings.get("GOVERNOR_SWEEP_SCHEDULE"),
            context.settings.get("GOVERNOR_HEALTH_STALE_INTERVALS"),
            __version__,
        )
        response = http.respond(report, 200 if healthy else 503)
        response.headers["Cache-Control"] = "no-store"
        if not healthy:
            response.headers["Retry-After"] = "60"
        return response

    return http.serve(req, action)
