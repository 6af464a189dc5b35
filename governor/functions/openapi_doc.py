"""The OpenAPI 3.1 document of the registered HTTP functions (served by `openapi.py`).

Paths, methods and auth come from the app `governor.functions.build_app()` builds (the one
function_app.py exposes), so the document cannot drift from the routes; what each operation says
comes from `openapi_operations.OPERATIONS`, schemas from `openapi_schemas`, examples from
`openapi_examples`. Imported only when the document is asked for: its schemas and examples pull
in the core's rules, which a cold start need not pay for.
"""

from __future__ import annotations

from http import HTTPStatus

from governor import __version__
from governor.core.policy.gate import FLAGS
from governor.core.policy.limits import DAY, IDEMPOTENCY_KEY, KEY_NAME, MONTH, PROJECT_NAME, SESSION_ID
from governor.functions import http, http_routes, registered_functions
from governor.functions import openapi_examples as examples
from governor.functions.dashboard import REFRESH_RANGE
from governor.functions.openapi_operations import API_DESCRIPTION, OPERATIONS, TAGS, Operation
from governor.functions.openapi_schemas import MEDIA_TYPES, SCHEMAS

__all__ = ["OPERATIONS", "SCHEMAS", "document", "http_routes", "registered_functions"]

PATH_RULES = {"project": PROJECT_NAME, "sessionId": SESSION_ID, "keyName": KEY_NAME}
_PATH_MEANINGS = {"project": "the project's name", "sessionId": "the session's id", "keyName": "the caller key's name"}
_RETRY_STATUSES = (429, 503)  # http.problem always sends Retry-After with these
_HEADERS = {
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Cache-Control": {
        "description": "no-store: the answer is never cached (it carries a secret or a live state)",
        "schema": {"type": "string", "enum": ["no-store"]},
    },
}
SECURITY_SCHEMES = {
    "functionKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-functions-key",
        "description": "a function key of the app (or ?code=), checked by the Functions platform: without a "
        "valid one the platform answers 401 with no body, before the app (the app's own 401s are problem+json)",
    },
    "masterKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-functions-key",
        "description": "the app's master key (manage/ routes)",
    },
    "callerKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": "one of the project's named caller keys",
    },
    "principal": {
        "type": "apiKey",
        "in": "header",
        "name": "X-MS-CLIENT-PRINCIPAL",
        "description": "set by App Service authentication (when on) for a principal the project lists",
    },
}


def _security(route: str, auth: str) -> list:
    if auth == "anonymous":
        return []
    if auth == "admin":
        return [{"masterKey": []}]
    if route.startswith("projects/"):
        return [{"functionKey": [], "callerKey": []}, {"functionKey": [], "principal": []}]
    return [{"functionKey": []}]


def _path_parameter(name: str) -> dict:
    rule = PATH_RULES.get(name)
    schema = {"type": "string"} if rule is None else {"type": "string", "pattern": rule.json_pattern}
    meaning = _PATH_MEANINGS.get(name, name)
    description = meaning if rule is None else f"{meaning}: {rule.hint}"
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


def _parameters(name: str, route: str) -> list[dict]:
    parameters = [_path_parameter(p) for p in http.ROUTE_PARAM.findall(route)]
    if name == "request_session":
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "description": "a retry with the same key returns the first request's session; " + IDEMPOTENCY_KEY.hint,
                "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY.json_pattern},
            }
        )
    if name == "list_sessions":
        closed = f"true: closed sessions too (one of {', '.join(FLAGS)}; anything else is 400 naming it)"
        parameters.append(
            {"name": "includeClosed", "in": "query", "description": closed, "schema": {"type": "boolean"}}
        )
    if name == "project_usage":
        day = {"type": "string", "format": "date", "pattern": DAY.json_pattern}
        month = {"type": "string", "pattern": MONTH.json_pattern}
        by = {"type": "string", "enum": ["key"]}
        parameters += [
            {"name": "day", "in": "query", "description": "a past day, YYYY-MM-DD (UTC)", "schema": day},
            {"name": "month", "in": "query", "description": "a past month, YYYY-MM (UTC)", "schema": month},
            {
                "name": "by",
                "in": "query",
                "description": "key: spend, reservations and sessions per caller",
                "schema": by,
            },
        ]
    if name in ("dashboard", "project_dashboard"):
        low, high = REFRESH_RANGE
        refresh = {"type": "integer", "minimum": low, "maximum": high}
        parameters.append(
            {"name": "refresh", "in": "query", "description": "reload every N seconds", "schema": refresh}
        )
    return parameters


def _header(name: str, required: bool) -> dict:
    """A response header, inline: a Reference Object may not carry `required` beside its `$ref`."""
    return {**_HEADERS[name], "required": required}


def _success(name: str, spec: Operation) -> dict[str, dict]:
    answers = examples.success(name)
    statuses = [spec.status, *(s for s in answers if s != spec.status)]
    responses = {}
    for status in statuses:
        entry: dict = {"description": f"{HTTPStatus(status).phrase}: {spec.summary}"}
        if spec.response:
            media_type = MEDIA_TYPES.get(spec.response, http.JSON)
            schema = {"$ref": f"#/components/schemas/{spec.response}"}
            entry["content"] = {media_type: {"schema": schema, "examples": answers[status]}}
        headers = {}
        if spec.no_store:
            headers["Cache-Control"] = _header("Cache-Control", required=True)
        if status in _RETRY_STATUSES:
            headers["Retry-After"] = _header("Retry-After", required=True)
        if headers:
            entry["headers"] = headers
        responses[str(status)] = entry
    return responses


def _refusals(name: str, spec: Operation, path: str) -> dict[str, dict]:
    responses: dict[str, dict] = {}
    for reason in (*spec.reasons, "internal-error"):
        status, title = http.PROBLEMS[reason]
        example, retry_after = examples.problem(reason, name, path)
        entry = responses.setdefault(
            str(status),
            {"description": "", "content": {http.PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}},
        )
        entry["description"] = "; ".join(filter(None, [entry["description"], f"{reason}: {title}"]))
        entry["content"][http.PROBLEM_JSON].setdefault("examples", {})[reason] = example
        if retry_after is not None:
            header = _header("Retry-After", required=status in _RETRY_STATUSES)
            entry.setdefault("headers", {})["Retry-After"] = header
    return responses


def _operation(name: str, route: str, method: str, auth: str, path: str) -> dict:
    spec = OPERATIONS[name]
    operation: dict = {
        "operationId": name,
        "tags": [spec.tag],
        "summary": spec.summary,
        "description": spec.description,
        "security": _security(route, auth),
    }
    parameters = _parameters(name, route)
    if parameters:
        operation["parameters"] = parameters
    if spec.request:
        body: dict[str, dict] = {"schema": {"$ref": f"#/components/schemas/{spec.request}"}}
        if request_examples := examples.request(name):
            body["examples"] = request_examples
        operation["requestBody"] = {"required": spec.body_required, "content": {http.JSON: body}}
    responses = _success(name, spec)
    for status, refusal in _refusals(name, spec, path).items():
        if status not in responses:
            responses[status] = refusal
            continue
        answer = responses[status]  # health's 503: its report, or a problem when it cannot make one
        answer["description"] += "; " + refusal["description"]
        answer["content"] |= refusal["content"]
        for header, sent in answer.get("headers", {}).items():  # a header only one of them sends
            if header not in refusal.get("headers", {}):
                answer["headers"][header] = {**sent, "required": False}
    return operation | {"responses": dict(sorted(responses.items()))}


def document(functions, version: str = __version__) -> dict:
    paths: dict[str, dict] = {}
    for name, route, method, auth in http_routes(functions):
        path = "/api/" + http.ROUTE_PARAM.sub(r"{\1}", route).strip("/")
        paths.setdefault(path, {})[method.lower()] = _operation(name, route, method, auth, path)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ARR lease governor",
            "version": version,
            "description": API_DESCRIPTION,
            "contact": {"name": "ARR lease governor maintainers"},
        },
        "servers": [{"url": "/", "description": "the function app's host"}],
        "tags": TAGS,
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
    }
