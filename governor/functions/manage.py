"""Operator routes under `manage/` (AuthLevel.ADMIN: the host's master key).

Not `admin/`: the Functions host reserves routes and function names starting with `admin`.
"""

from __future__ import annotations

import azure.functions as func

from governor.functions import http

bp = func.Blueprint()

PROJECT = "manage/projects/{project}"
ADMIN = func.AuthLevel.ADMIN


def _manage():
    from governor.bootstrap import get_context  # lazy: cold start (bootstrap loads governor.core.model)
    from governor.service.manage import ManageService  # lazy: cold start (governor.service)

    context = get_context()
    loopback = bool(context.settings.get("GOVERNOR_WEBHOOK_ALLOW_LOOPBACK_HTTP"))
    return ManageService(context.store, context.clock, loopback_webhooks=loopback, accounts=frozenset(context.arr))


def _project(req: func.HttpRequest) -> str:
    return req.route_params.get("project", "")


@bp.route(route=PROJECT, methods=["PUT"], auth_level=ADMIN)
def manage_put_project(req: func.HttpRequest) -> func.HttpResponse:
    def action():
        document, created = _manage().put(_project(req), http.read_json(req))
        return http.respond(document, 201 if created else 200)

    return http.serve(req, action)


@bp.route(route=PROJECT, methods=["GET"], auth_level=ADMIN)
def manage_get_project(req: func.HttpRequest) -> func.HttpResponse:
    return http.serve(req, lambda: http.respond(_manage().get(_project(req))))


@bp.route(route=PROJECT, methods=["DELETE"], auth_level=ADMIN)
def manage_delete_project(req: func.HttpRequest) -> func.HttpResponse:
    def action():
        _manage().delete(_project(req))
        return http.respond(None, 204)

    return http.serve(req, action)


@bp.route(route="manage/projects", methods=["GET"], auth_level=ADMIN)
def manage_list_projects(req: func.HttpRequest) -> func.HttpResponse:
    return http.serve(req, lambda: http.respond(_manage().list()))


KEYS = PROJECT + "/keys"
KEY = KEYS + "/{keyName}"


def _key_name(req: func.HttpRequest) -> str:
    return req.route_params.get("keyName", "")


def _secret(body: dict) -> func.HttpResponse:
    """An answer carrying a new key: shown once, never cached."""
    response = http.respond(body, 201)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route(route=KEYS, methods=["POST"], auth_level=ADMIN)
def manage_rotate_key(req: func.HttpRequest) -> func.HttpResponse:
    """`{"name": ...}` adds a named key; `{"revokeOthers": true}` revokes every key and adds one
    ("default" unless named). Any other body, an empty one included, is a 400 naming the field."""

    def action():
        return _secret(_manage().post_keys(_project(req), http.read_json(req)))

    return http.serve(req, action)


@bp.route(route=KEYS, methods=["GET"], auth_level=ADMIN)
def manage_list_keys(req: func.HttpRequest) -> func.HttpResponse:
    return http.serve(req, lambda: http.respond(_manage().list_keys(_project(req))))


@bp.route(route=KEY, methods=["DELETE"], auth_level=ADMIN)
def manage_revoke_key(req: func.HttpRequest) -> func.HttpResponse:
    def action():
        _manage().revoke_key(_project(req), _key_name(req))
        return http.respond(None, 204)

    return http.serve(req, action)


@bp.route(route=KEY + "/rotate", methods=["POST"], auth_level=ADMIN)
def manage_rotate_named_key(req: func.HttpRequest) -> func.HttpResponse:
    return http.serve(req, lambda: _secret(_manage().rotate_named_key(_project(req), _key_name(req))))
