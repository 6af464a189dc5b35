"""Client routes of the gate: sessions and usage of one project, authorised by its caller key."""

from __future__ import annotations

from datetime import timedelta

import azure.functions as func

from governor.core.errors import Refusal
from governor.functions import http

bp = func.Blueprint()

SESSIONS = "projects/{project}/sessions"
SESSION = "projects/{project}/sessions/{sessionId}"


def _gate():
    from governor.bootstrap import get_context  # lazy: cold start (bootstrap loads governor.core.model)
    from governor.service.gate import GateService  # lazy: cold start (governor.service)

    context = get_context()
    settings = context.settings
    return GateService(
        context.store,
        context.arr,
        context.clock,
        context.reads,
        arr_time_scale=settings.get("GOVERNOR_ARR_TIME_SCALE"),
        capacity_window=timedelta(minutes=settings.get("GOVERNOR_CAPACITY_WINDOW_MINUTES")),
        notify=_notifier(context),
    )


def _notifier(context):
    """The gate's own webhook events (placement, capacity) go through the process's sender, as the sweep's."""

    def notify(policy, payload: dict) -> None:
        from governor.service.webhooks import default_sender  # lazy: cold start (governor.service)

        settings = context.settings
        timeout = settings.get("GOVERNOR_WEBHOOK_TIMEOUT_SECONDS")
        sender = default_sender(timeout, settings.get("GOVERNOR_WEBHOOK_ALLOW_LOOPBACK_HTTP"))
        sender.send(policy.webhook_url, context.store.webhook_secret(policy.name), payload)

    return notify


def _project(req: func.HttpRequest) -> str:
    return req.route_params.get("project", "")


def _session(req: func.HttpRequest) -> str:
    return req.route_params.get("sessionId", "")


@bp.route(route=SESSIONS, methods=["POST"])
def request_session(req: func.HttpRequest) -> func.HttpResponse:
    def action():
        from governor import telemetry  # lazy: cold start (test_cold_import: loads on the first request)
        from governor.core.policy.gate import check_idempotency_key  # lazy: cold start (governor.core.policy)

        project = _project(req)
        try:
            idempotency_key = check_idempotency_key(req.headers.get("idempotency-key"))
            session = _gate().request(project, http.caller(req), http.read_json(req), idempotency_key)
        except Refusal as refusal:
            telemetry.add(telemetry.REFUSED, project=project, reason=refusal.reason)
            raise
        telemetry.add(telemetry.ADMITTED, project=project, size=session.get("size"))
        return http.respond(session, 202)

    return http.serve(req, action)


@bp.route(route=SESSIONS, methods=["GET"])
def list_sessions(req: func.HttpRequest) -> func.HttpResponse:
    def action():
        from governor.core.policy.gate import parse_flag  # lazy: cold start (governor.core.policy)

        include_closed = parse_flag("includeClosed", req.params.get("includeClosed"))
        return http.respond(_gate().list(_project(req), http.caller(req), include_closed))

    return http.serve(req, action)


@bp.route(route=SESSION, methods=["GET"])
def get_session(req: func.HttpRequest) -> func.HttpResponse:
    return http.serve(req, lambda: http.respond(_gate().get(_project(req), http.caller(req), _session(req))))


@bp.route(route=SESSION + "/heartbeat", methods=["POST"])
def heartbeat_session(req: func.HttpRequest) -> func.HttpResponse:
    return http.serve(req, lambda: http.respond(_gate().heartbeat(_project(req), http.caller(req), _session(req))))


@bp.route(route=SESSION + "/connect", methods=["POST"])
def connect_session(req: func.HttpRequest) -> func.HttpResponse:
    def action():
        response = http.respond(_gate().connect(_project(req), http.caller(req), _session(req)))
        response.headers["Cache-Control"] = "no-store"  # the answer carries an access token
        return response

    return http.serve(req, action)


@bp.route(route=SESSION, methods=["PATCH"])
def extend_session(req: func.HttpRequest) -> func.HttpResponse:
    def action():
        body = http.read_json(req, required=False)
        return http.respond(_gate().extend(_project(req), http.caller(req), _session(req), body))

    return http.serve(req, action)


@bp.route(route=SESSION, methods=["DELETE"])
def stop_session(req: func.HttpRequest) -> func.HttpResponse:
    return http.serve(req, lambda: http.respond(_gate().stop(_project(req), http.caller(req), _session(req))))


@bp.route(route="projects/{project}/usage", methods=["GET"])
def project_usage(req: func.HttpRequest) -> func.HttpResponse:
    def action():
        day, month = _period_param(req, "day", 10), _period_param(req, "month", 7)
        by = req.params.get("by") or None
        if by not in (None, "key"):
            from governor.core.policy.gate import bad_request  # lazy: cold start (governor.core.policy)

            raise bad_request("by", "must be key (or absent)")
        return http.respond(_gate().usage(_project(req), http.caller(req), day=day, month=month, by=by))

    return http.serve(req, action)


def _period_param(req: func.HttpRequest, name: str, length: int) -> str | None:
    from governor.core.policy.limits import parse_day, parse_month  # lazy: cold start (governor.core.policy)

    value = req.params.get(name)
    if value is None or value == "":
        return None
    # ASCII digits only (strptime reads other scripts' digits too), a real day or month
    if len(value) != length or (parse_day if name == "day" else parse_month)(value) is None:
        from governor.core.policy.gate import bad_request  # lazy: cold start (governor.core.policy)

        raise bad_request(name, f"must look like {'2026-11-26' if name == 'day' else '2026-11'}") from None
    return value
