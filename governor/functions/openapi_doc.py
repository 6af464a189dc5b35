"""The OpenAPI 3.1 document of the registered HTTP functions (served by `openapi.py`).

Paths, methods and auth come from the app `governor.functions.build_app()` builds (the one
function_app.py exposes), so the document cannot drift from the routes; schemas and error
responses come from `OPERATIONS` below. Imported only when the document is asked for: its schemas
pull in the core's rules, which a cold start need not pay for.
"""

from __future__ import annotations

import re

import azure.functions as func

from governor.functions import http
from governor.functions.dashboard import REFRESH_RANGE
from governor.model import Closing, whole_minutes
from governor.policy.document import MAX_HOLIDAYS, MAX_WINDOWS
from governor.policy.limits import (
    ARR_MAX_CREATE_LEASE,
    IDEMPOTENCY_KEY,
    KEY_NAME,
    MAX_MODELS,
    MAX_URL_LENGTH,
    PROJECT_NAME,
    SESSION_ID,
)
from governor.policy.schedule import WEEKDAYS, WINDOW

PATH_RULES = {"project": PROJECT_NAME, "sessionId": SESSION_ID}

_MONEY = {"type": ["string", "null"], "pattern": r"^-?\d+(\.\d+)?$", "description": "decimal cost units"}
_LEASE = {
    "oneOf": [
        {"type": "integer", "minimum": 1, "maximum": whole_minutes(ARR_MAX_CREATE_LEASE), "description": "minutes"},
        {"type": "string", "description": ".NET TimeSpan, e.g. 01:30:00"},
    ]
}
_USAGE = {
    "type": "object",
    "properties": {
        "period": {"enum": ["day", "month"]},
        "key": {"type": "string"},
        "budget": _MONEY,
        "spent": _MONEY,
        "reserved": _MONEY,
        "remaining": _MONEY,
        "saved": {
            **_MONEY,
            "description": "What the governor avoided in this period: leases it cut short by stopping "
            "sessions, and extension steps it refused, at each session's rate",
        },
    },
}
_BUDGET = {
    "currency": {"type": "string"},
    "remainingBudget": _MONEY,
    "budget": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/PeriodUsage"}},
}
_LIMITS = {
    "type": "object",
    "additionalProperties": False,
    "description": "a caller's own limits, each at most the project's",
    "properties": {
        "maxConcurrent": {"type": ["integer", "null"], "minimum": 0},
        "dailyBudget": _MONEY,
        "monthlyBudget": _MONEY,
    },
}
_WINDOWS = {"type": "array", "maxItems": MAX_WINDOWS, "items": {"type": "string", "pattern": WINDOW.json_pattern}}
SCHEMAS: dict[str, dict] = {
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string", "format": "uri-reference"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "field": {"type": ["string", "null"], "description": "the offending field (bad-request)"},
            "sessionId": {
                "type": "string",
                "description": "upstream-unavailable after a create ARR may have done: the session it would be; "
                "retry with the same Idempotency-Key to resume it",
            },
        },
    },
    "SessionRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["size", "maxLeaseTime"],
        "properties": {
            "size": {"enum": ["Standard", "Premium"]},
            "maxLeaseTime": _LEASE,
            "models": {
                "type": "array",
                "maxItems": MAX_MODELS,
                "items": {"type": "string", "maxLength": MAX_URL_LENGTH},
            },
        },
    },
    "ExtendRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"maxLeaseTime": {**_LEASE, "description": "new total lease since start"}},
    },
    "PeriodUsage": _USAGE,
    "Session": {
        "type": "object",
        "properties": {
            "sessionId": {"type": "string"},
            "project": {"type": "string"},
            "size": {"enum": ["Standard", "Premium"]},
            "status": {"type": "string"},
            "state": {"enum": ["pending", "active", "closed"]},
            "requestedAt": {"type": "string", "format": "date-time"},
            "leaseMinutes": {"type": "integer"},
            "lease": {"type": "string"},
            "elapsedMinutes": {"type": "integer"},
            "remainingLeaseMinutes": {"type": "integer"},
            "costSoFar": _MONEY,
            "reservedCost": _MONEY,
            "extensions": {"type": "integer"},
            "lastHeartbeat": {"type": ["string", "null"], "format": "date-time"},
            "caller": {"type": ["string", "null"], "description": "the key name or principal:<id> that asked"},
            "partial": {"type": "boolean", "description": "request: the lease was cut to end at closing time"},
            "hostname": {"type": "string"},
            "arrInspectorPort": {"type": "integer"},
            "handshakePort": {"type": "integer"},
            "arrViewAgeSeconds": {
                "type": ["number", "null"],
                "description": "session reads only: age of the ARR answer behind `status` and the ports "
                "(the gate reuses one for GOVERNOR_GATE_READ_SECONDS); null when ARR was not asked (closed)",
            },
            **_BUDGET,
        },
    },
    "SessionList": {
        "type": "object",
        "properties": {
            "project": {"type": "string"},
            "sessions": {"type": "array", "items": {"$ref": "#/components/schemas/Session"}},
            **_BUDGET,
        },
    },
    "Heartbeat": {
        "allOf": [{"$ref": "#/components/schemas/Session"}],
        "properties": {
            "extension": {
                "type": "object",
                "properties": {
                    "wouldGrant": {"type": "boolean"},
                    "suggest": {"type": "boolean", "description": "the lease is within the threshold: ask now"},
                    "leaseMinutes": {"type": "integer"},
                    "extraCost": _MONEY,
                    "partial": {"type": "boolean"},
                    "reason": {"type": "string"},
                },
            }
        },
    },
    "Usage": {
        "type": "object",
        "properties": {
            "project": {"type": "string"},
            "periods": {"type": "array", "items": {"$ref": "#/components/schemas/PeriodUsage"}},
            "sessions": {"type": "object", "additionalProperties": {"type": "integer"}},
            "callers": {
                "type": "array",
                "description": "with ?by=key: spend, reservations and open sessions per key name or principal",
                "items": {"$ref": "#/components/schemas/CallerUsage"},
            },
            **_BUDGET,
        },
    },
    "CallerUsage": {
        "type": "object",
        "properties": {
            "caller": {
                "type": ["string", "null"],
                "description": "key name, principal:<id>, or null (before named keys)",
            },
            "openSessions": {"type": "integer"},
            "reserved": _MONEY,
            "spent": {"type": "object", "properties": {"day": _MONEY, "month": _MONEY}},
            "limits": {"$ref": "#/components/schemas/CallerLimits"},
        },
    },
    "CallerLimits": _LIMITS,
    "Schedule": {
        "type": "object",
        "additionalProperties": False,
        "required": ["timeZone"],
        "properties": {
            "timeZone": {"type": "string", "description": "IANA time zone, e.g. Europe/Berlin"},
            "hours": {
                "type": "object",
                "additionalProperties": False,
                "description": "windows by weekday; an end not after the start runs over midnight",
                "properties": {day: _WINDOWS for day in WEEKDAYS},
            },
            "holidays": {"type": "array", "maxItems": MAX_HOLIDAYS, "items": {"type": "string", "format": "date"}},
            "closing": {"enum": [c.value for c in Closing], "default": Closing.STOP.value},
            "warnBeforeMinutes": {"type": ["integer", "null"], "minimum": 0, "maximum": 1440},
        },
    },
    "Project": {
        "type": "object",
        "description": "a project policy document (see docs/api.md)",
        "properties": {
            "schedule": {"oneOf": [{"$ref": "#/components/schemas/Schedule"}, {"type": "null"}]},
            "principalLimits": {
                "type": "object",
                "additionalProperties": {"$ref": "#/components/schemas/CallerLimits"},
            },
        },
    },
    "ProjectList": {
        "type": "object",
        "properties": {"projects": {"type": "array", "items": {"$ref": "#/components/schemas/Project"}}},
    },
    "NewKey": {
        "type": "object",
        "properties": {
            "project": {"type": "string"},
            "name": {"type": "string"},
            "key": {"type": "string", "description": "shown once"},
        },
    },
    "AddKey": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "pattern": KEY_NAME.json_pattern},
            "expiresAt": {"type": ["string", "null"], "format": "date-time"},
            **_LIMITS["properties"],
        },
    },
    "CallerKey": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "createdAt": {"type": ["string", "null"], "format": "date-time"},
            "expiresAt": {"type": ["string", "null"], "format": "date-time"},
            "lastUsedAt": {"type": ["string", "null"], "format": "date-time", "description": "at most a minute stale"},
            "limits": {"$ref": "#/components/schemas/CallerLimits"},
        },
    },
    "KeyList": {
        "type": "object",
        "properties": {
            "project": {"type": "string"},
            "keys": {"type": "array", "items": {"$ref": "#/components/schemas/CallerKey"}},
        },
    },
    "Health": {"type": "object", "additionalProperties": True},
    "DashboardPage": {"type": "string", "description": "a self-contained HTML page (no script)"},
}
_MEDIA_TYPES = {"DashboardPage": "text/html"}  # response schemas not served as application/json

_CLIENT = ("bad-request", "unauthorized", "forbidden", "unknown-project", "upstream-unavailable")
_SESSION = (*_CLIENT, "not-found")
_MANAGED = ("bad-request", "unknown-project", "upstream-unavailable")  # bad-request: the project name
# function name -> (summary, request schema, success status, response schema, refusal reasons)
OPERATIONS: dict[str, tuple[str, str | None, int, str | None, tuple[str, ...]]] = {
    "request_session": (
        "Request a session within the project's policy and budget",
        "SessionRequest",
        202,
        "Session",
        (
            *_CLIENT,
            "outside-hours",
            "size-not-allowed",
            "lease-too-long",
            "concurrency-limit",
            "budget-exhausted",
            "payload-too-large",
            "conflict",
        ),
    ),
    "list_sessions": (
        "List the project's sessions (live ARR status merged with the ledger)",
        None,
        200,
        "SessionList",
        _CLIENT,
    ),
    "get_session": ("One session: live status, remaining lease, cost so far", None, 200, "Session", _SESSION),
    "heartbeat_session": (
        "Record activity; says whether an extension would be granted",
        None,
        200,
        "Heartbeat",
        _SESSION,
    ),
    "extend_session": (
        "Extend the lease (new total since start; budget and hard cap apply)",
        "ExtendRequest",
        200,
        "Session",
        (*_SESSION, "extension-denied", "budget-exhausted", "payload-too-large"),
    ),
    "stop_session": ("Stop the session, settle its cost, release the rest", None, 200, "Session", _SESSION),
    "project_usage": ("The project's usage, cost and budget (current or a past period)", None, 200, "Usage", _CLIENT),
    "manage_put_project": (
        "Create or replace a project",
        "Project",
        200,
        "Project",
        ("bad-request", "payload-too-large", "upstream-unavailable"),
    ),
    "manage_get_project": ("Read a project", None, 200, "Project", _MANAGED),
    "manage_delete_project": ("Delete a project", None, 204, None, _MANAGED),
    "manage_list_projects": ("List projects", None, 200, "ProjectList", ("upstream-unavailable",)),
    "manage_rotate_key": (
        "Add a named caller key (with a body), or revoke every key and add one named default (without); "
        "the key is returned once",
        "AddKey",
        201,
        "NewKey",
        (*_MANAGED, "conflict", "payload-too-large"),
    ),
    "manage_list_keys": (
        "List the project's caller keys (names, dates, limits; never a secret)",
        None,
        200,
        "KeyList",
        _MANAGED,
    ),
    "manage_revoke_key": ("Revoke one caller key by name", None, 204, None, (*_MANAGED, "not-found")),
    "manage_rotate_named_key": (
        "A new secret for one named key (same name, limits, expiry; returned once)",
        None,
        201,
        "NewKey",
        (*_MANAGED, "not-found"),
    ),
    "dashboard": (
        "Usage dashboard of every project (HTML)",
        None,
        200,
        "DashboardPage",
        ("bad-request", "upstream-unavailable"),
    ),
    "project_dashboard": ("Usage dashboard of the project (HTML)", None, 200, "DashboardPage", _CLIENT),
    "health": (
        "Health: version, last sweep, storage and ARR reachability (503 when unhealthy)",
        None,
        200,
        "Health",
        (),
    ),
    "openapi": ("This document", None, 200, None, ()),
}

_PARAM = re.compile(r"{(\w+)(?::[^}]*)?}")


def http_routes(functions) -> list[tuple[str, str, str, str]]:
    """(function name, route, METHOD, auth level) of every HTTP-triggered function."""
    routes = []
    for function in functions:
        trigger = function.get_trigger().get_dict_repr()
        if trigger.get("type") != "httpTrigger":
            continue
        route = trigger.get("route") or function.get_function_name()
        auth = getattr(trigger.get("authLevel"), "value", trigger.get("authLevel")) or "function"
        for method in trigger.get("methods") or ["GET", "POST"]:
            routes.append((function.get_function_name(), route, str(getattr(method, "value", method)).upper(), auth))
    return routes


def _security(route: str, auth: str) -> list:
    if auth == "anonymous":
        return []
    if auth == "admin":
        return [{"masterKey": []}]
    if route.startswith("projects/"):
        return [{"functionKey": [], "callerKey": []}, {"functionKey": [], "principal": []}]
    return [{"functionKey": []}]


def _path_schema(name: str) -> dict:
    rule = PATH_RULES.get(name)
    return {"type": "string"} if rule is None else {"type": "string", "pattern": rule.json_pattern}


def _operation(name: str, route: str, method: str, auth: str) -> dict:
    summary, request, status, response, reasons = OPERATIONS.get(name, (name, None, 200, None, ()))
    operation: dict = {"operationId": name, "summary": summary, "security": _security(route, auth)}
    parameters = [{"name": p, "in": "path", "required": True, "schema": _path_schema(p)} for p in _PARAM.findall(route)]
    if name == "request_session":
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "description": "a retry with the same key returns the first request's session",
                "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY.json_pattern},
            }
        )
    if name == "list_sessions":
        parameters.append({"name": "includeClosed", "in": "query", "schema": {"type": "boolean"}})
    if name == "project_usage":
        parameters.append({"name": "day", "in": "query", "schema": {"type": "string", "format": "date"}})
        parameters.append({"name": "month", "in": "query", "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}$"}})
        by = {"enum": ["key"], "description": "key: add spend, reservations and open sessions per caller"}
        parameters.append({"name": "by", "in": "query", "schema": by})
    if name in ("dashboard", "project_dashboard"):
        low, high = REFRESH_RANGE
        refresh = {"type": "integer", "minimum": low, "maximum": high, "description": "reload every N seconds"}
        parameters.append({"name": "refresh", "in": "query", "schema": refresh})
    if parameters:
        operation["parameters"] = parameters
    if request:
        content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{request}"}}}
        operation["requestBody"] = {"required": name not in ("extend_session", "manage_rotate_key"), "content": content}
    ok: dict = {"description": summary}
    if response:
        media_type = _MEDIA_TYPES.get(response, "application/json")
        ok["content"] = {media_type: {"schema": {"$ref": f"#/components/schemas/{response}"}}}
    responses = {str(status): ok}
    if name == "health":
        responses["503"] = {"description": "unhealthy", "content": ok["content"]}
    if name == "manage_put_project":
        responses["201"] = {"description": "Created a project", "content": ok["content"]}
    for reason in (*reasons, "internal-error"):
        code, title = http.PROBLEMS[reason]
        entry = responses.setdefault(str(code), {"description": "", "content": _problem_content()})
        entry["description"] = "; ".join(filter(None, [entry["description"], f"{reason}: {title}"]))
    return operation | {"responses": responses}


def _problem_content() -> dict:
    return {http.PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def registered_functions(app: func.FunctionApp) -> list:
    """The app's functions. Not `app.get_functions()`: that may run once per app (the worker's
    indexing), a second call raises "does not have a unique function name"."""
    return [builder.build(app.auth_level) for builder in app._function_builders]


def document(functions, version: str = "0.0.0") -> dict:
    paths: dict[str, dict] = {}
    for name, route, method, auth in http_routes(functions):
        path = "/api/" + _PARAM.sub(r"{\1}", route).strip("/")
        paths.setdefault(path, {})[method.lower()] = _operation(name, route, method, auth)
    return {
        "openapi": "3.1.0",
        "info": {"title": "ARR lease governor", "version": version},
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "masterKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "callerKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
                "principal": {"type": "apiKey", "in": "header", "name": "X-MS-CLIENT-PRINCIPAL"},
            },
        },
    }
