"""HTTP helpers shared by the gate's blueprints: body reading, problem+json, caller identity.

Every handler runs through `serve()`, so no exception escapes as a bare 500: refusals become
RFC 9457 problems, the service's declared errors (`governor.core.errors`: bad input, not found,
conflict, unavailable) their 4xx or a 503 with Retry-After, and anything else a detail-free
500 that is logged with the invocation's correlation id.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import itertools
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import azure.functions as func

from governor.core.errors import BadInput, Conflict, NotFound, Refusal, Unavailable

log = logging.getLogger(__name__)

PROBLEM_BASE = "urn:arr-lease-governor:problem:"
PROBLEMS: dict[str, tuple[int, str]] = {
    "bad-request": (400, "The request is malformed"),
    "unauthorized": (401, "A caller key is required"),
    "forbidden": (403, "The caller may not do this"),
    "unknown-project": (404, "No such project"),
    "not-found": (404, "No such resource"),
    "extension-denied": (409, "The lease cannot be extended"),
    "not-ready": (409, "The session is not ready yet"),
    "session-ended": (409, "The session has ended"),
    "conflict": (409, "The resource changed state"),
    "outside-hours": (403, "The project is outside its working hours"),
    "payload-too-large": (413, "The request body is too large"),
    "size-not-allowed": (422, "The VM size is not allowed for this project"),
    "idempotency-key-reused": (422, "The Idempotency-Key was used for a different request"),
    "lease-too-long": (422, "The lease is longer than the project allows"),
    "budget-exhausted": (402, "The project's budget cannot pay for this"),
    "concurrency-limit": (429, "The project runs as many sessions as it may"),
    "internal-error": (500, "Unexpected error"),
    "upstream-unavailable": (503, "ARR or storage is unavailable; retry later"),
}
JSON = "application/json"
PROBLEM_JSON = "application/problem+json"


def problem(reason: str, detail: str, instance: str | None = None, figures: dict | None = None) -> func.HttpResponse:
    status, title = PROBLEMS.get(reason, PROBLEMS["bad-request"])
    body: dict[str, Any] = {"type": PROBLEM_BASE + reason, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    figures = dict(figures or {})
    headers = {}
    if status in (429, 503) or "retryAfter" in figures:
        headers["Retry-After"] = str(int(figures.pop("retryAfter", 30)))
    body.update({k: v for k, v in figures.items() if k not in body})
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype=PROBLEM_JSON, headers=headers)


def respond(body: Any, status: int = 200) -> func.HttpResponse:
    if body is None:
        return func.HttpResponse(status_code=status)
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype=JSON)


def _instance(req: func.HttpRequest) -> str:
    url = req.url or ""
    path = url.split("://", 1)[-1]
    path = "/" + path.split("/", 1)[1] if "/" in path else "/"
    return path.split("?", 1)[0][:512]


def max_body_bytes() -> int:
    from governor.bootstrap import get_context  # lazy: cold start (bootstrap loads governor.core.model)

    return int(get_context().settings.get("GOVERNOR_MAX_BODY_BYTES"))


def read_json(req: func.HttpRequest, required: bool = True, limit: int | None = None) -> Any:
    """The body as JSON, or None when it is empty and not required."""
    limit = max_body_bytes() if limit is None else limit
    declared = req.headers.get("content-length")
    if declared and declared.strip().isascii() and declared.strip().isdigit() and int(declared) > limit:
        raise Refusal("payload-too-large", f"the body exceeds {limit} bytes", {"limit": limit})
    raw = req.get_body() or b""
    if len(raw) > limit:
        raise Refusal("payload-too-large", f"the body exceeds {limit} bytes", {"limit": limit})
    if not raw.strip():
        if required:
            raise Refusal("bad-request", "body: a JSON object is required", {"field": "body"})
        return None
    # Content-Type is not enforced: `curl -d` sends form-urlencoded, and the body is JSON or a 400.
    try:
        marked: list[_Duplicated] = []
        hook = functools.partial(_unique_keys, marked)
        body = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant, object_pairs_hook=hook)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Refusal("bad-request", "body: not valid UTF-8 JSON", {"field": "body"}) from None
    field = _duplicated(body) if marked else None  # the walk only for a body that has a duplicate
    if field is not None:
        raise Refusal("bad-request", f"{field}: duplicate field", {"field": field})
    return body


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


class _Duplicated(dict):
    """An object that had `key` twice. Kept until the whole body is read: only then is its path
    known (`schedule.hours.mon`, not `mon`)."""

    key = ""


def _unique_keys(marked: list[_Duplicated], pairs: list[tuple[str, Any]]) -> dict:
    """An object whose keys are all different: `{"maxLeaseTime": 30, "maxLeaseTime": 900}` is a 400,
    as in projects files, not "the last one wins"."""
    body = dict(pairs)
    if len(body) == len(pairs):
        return body
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            duplicated = _Duplicated(body)
            duplicated.key = key
            marked.append(duplicated)
            return duplicated
        seen.add(key)
    return body


def _duplicated(body: Any) -> str | None:
    """The path of the first key a body has twice (as the core names fields: `a.b[0].c`), else None.
    A loop, not recursion: the body may nest as deep as the parser allowed."""
    stack: list[tuple[str, Any]] = [("", body)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, _Duplicated):
            return f"{path}.{value.key}".lstrip(".")[:128]
        if isinstance(value, dict):
            stack.extend((f"{path}.{key}", item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item) for index, item in reversed(list(enumerate(value))))
    return None


# ---------------------------------------------------------------- caller
def caller(req: func.HttpRequest):
    from governor.bootstrap import get_context  # lazy: cold start (bootstrap loads governor.core.model)
    from governor.service.gate import Caller  # lazy: cold start (governor.service)

    key = (req.headers.get("x-api-key") or "").strip() or None
    principals: frozenset[str] = frozenset()
    if _easy_auth_enabled(get_context().settings.environ):
        principals = principal_ids(req.headers.get("x-ms-client-principal"))
    return Caller(key=key, principals=principals)


def _easy_auth_enabled(environ) -> bool:
    # App Service strips client-sent X-MS-CLIENT-PRINCIPAL headers only when its authentication
    # is on; without it the header is forgeable, so it is ignored.
    return str(environ.get("WEBSITE_AUTH_ENABLED", "")).strip().lower() == "true"


_ID_CLAIMS = (
    "http://schemas.microsoft.com/identity/claims/objectidentifier",
    "oid",
    "preferred_username",
    "upn",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "email",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
)
_ROLE_CLAIMS = ("roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")


def principal_ids(header: str | None) -> frozenset[str]:
    """Ids a project's `principals` may list (compared in lower case): object id, user name or
    email, and `role:<name>`."""
    from governor.core.policy.callers import ROLE_PREFIX  # lazy: cold start (callers loads governor.core.model)

    if not header or len(header) > 16384:
        return frozenset()
    try:
        document = json.loads(base64.b64decode(header, validate=False))
        claims = document.get("claims") or []
    except (binascii.Error, ValueError, AttributeError, RecursionError):
        return frozenset()
    ids = set()
    for claim in claims if isinstance(claims, list) else []:
        if not isinstance(claim, dict) or not isinstance(claim.get("val"), str):
            continue
        typ, val = claim.get("typ"), claim["val"].strip()
        if typ in _ID_CLAIMS and val:
            ids.add(val.lower())
        elif typ in _ROLE_CLAIMS and val:
            ids.add(ROLE_PREFIX + val.lower())
    return frozenset(ids)


# ---------------------------------------------------------------- the guard
def serve(req: func.HttpRequest, action: Callable[[], func.HttpResponse]) -> func.HttpResponse:
    from governor import telemetry  # lazy: cold start (test_cold_import: loads on the first request)

    _configure_telemetry()
    instance, (route, function) = _instance(req), _route(req)
    attributes = {"kind": "server", "http.request.method": req.method, "http.route": route, **_url_attributes(req)}
    attributes.update(faas_attributes(function, "http"))
    attributes["governor.project"] = (req.route_params or {}).get("project")
    started = time.perf_counter()
    with telemetry.span(f"{req.method} {route}", **attributes) as span:
        reason = None
        try:
            response = action()
        except Refusal as refusal:
            reason = refusal.reason
            response = problem(refusal.reason, refusal.detail, instance, refusal.figures)
        except Exception as exc:
            response = _failure(exc, instance)
        status = response.status_code
        failed = str(status) if status >= 500 else None  # a server fails on 5xx only (semantic conventions)
        span.set("http.response.status_code", status)
        span.set("error.type", failed)
        span.set("governor.reason", reason)
        # OpenTelemetry's http.server.request.duration, never sampled (the span may be): the
        # attributes the convention names for it, no id, no project
        measured = {
            "http.request.method": attributes["http.request.method"],
            "url.scheme": attributes.get("url.scheme"),
            "http.route": route if route != UNMATCHED else None,
            "http.response.status_code": status,
            "error.type": failed,
        }
        telemetry.record(telemetry.HTTP_SERVER_DURATION, time.perf_counter() - started, measured)
        return response


# Query parameters whose value a server span may show: the ones the routes read (usage's period and
# grouping, the list's includeClosed, the dashboard's refresh). Every other value is REDACTED, as the
# HTTP conventions ask of sensitive query values: above all `code`, the Functions key.
SHOWN_QUERY = frozenset({"day", "month", "by", "includeClosed", "refresh"})
REDACTED = "REDACTED"
MAX_QUERY = 512


NAMED_QUERY = SHOWN_QUERY | {"code"}  # names that may show (with their value redacted, for code)


def redacted_query(query: str) -> str | None:
    """url.query with every value but those of `SHOWN_QUERY` replaced by `REDACTED`, and any name the
    app does not know too (`?<key>` alone would put a key in the name); None when there is none."""
    if not query:
        return None
    pairs = parse_qsl(query[: MAX_QUERY * 4], keep_blank_values=True)
    shown = [(k if k in NAMED_QUERY else REDACTED, v if k in SHOWN_QUERY else REDACTED) for k, v in pairs]
    return urlencode(shown)[:MAX_QUERY] if shown else None


def _url_attributes(req: func.HttpRequest) -> dict:
    """url.scheme and url.path (required on a server span), url.query redacted (`redacted_query`),
    server.address and server.port."""
    from governor import telemetry  # lazy: cold start (test_cold_import: loads on the first request)

    try:
        url = urlsplit(req.url or "")
        port = url.port
    except ValueError:
        return {"url.path": _instance(req)}
    attributes: dict[str, str | int | None] = {"url.scheme": url.scheme or None, "url.path": _instance(req)}
    attributes["url.query"] = redacted_query(url.query)
    attributes["server.address"] = url.hostname
    if port is not None and port != telemetry.DEFAULT_PORTS.get(url.scheme):
        attributes["server.port"] = port
    return attributes


def _route(req: func.HttpRequest) -> tuple[str, str | None]:
    """`http.route`: the template the host matched (`/api/projects/{project}/sessions`), found among
    the app's registered routes by method, literal segments and parameter names, and the name of the
    function it routes to. Never rebuilt from the values: a project named `api` or a key named `keys`
    would land in the name."""
    segments = _instance(req).strip("/").split("/")
    names = set(req.route_params or {})
    for function, method, template in _templates():
        tail = segments[len(segments) - len(template) :]
        if method != req.method.upper() or len(template) > len(segments) or names != _names(template):
            continue
        if all(part.startswith("{") or part == seen for part, seen in zip(template, tail, strict=True)):
            prefix = segments[: len(segments) - len(template)]  # the host's route prefix, "api"
            route = "/" + "/".join([*prefix, *(ROUTE_PARAM.sub(r"{\1}", part) for part in template)])
            return route, function
    return ("/" + "/".join(segments) if not names else UNMATCHED), None  # no ids in a span name


UNMATCHED = "(unmatched route)"
ROUTE_PARAM = re.compile(r"{(\w+)(?::[^}]*)?}")  # a route parameter: {name} or {name:constraint}


def _names(template: tuple[str, ...]) -> set[str]:
    return {match.group(1) for part in template for match in ROUTE_PARAM.finditer(part)}


@functools.cache
def _templates() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """(function name, METHOD, route segments) of every HTTP function, read once from the app's blueprints."""
    from governor.functions import build_app, http_routes, registered_functions  # lazy: they import this module

    routes = http_routes(registered_functions(build_app()))
    return tuple((name, method, tuple(route.strip("/").split("/"))) for name, route, method, _ in routes)


# ---------------------------------------------------------------- invocations (FaaS)
_invocations = itertools.count()  # this process's invocations: the first is its cold start


def faas_attributes(function: str | None, trigger: str, environ: Mapping[str, str] | None = None) -> dict:
    """OpenTelemetry's attributes of an incoming FaaS invocation (docs/faas/faas-spans.md):
    `faas.trigger` (`http`, `timer`), `faas.coldstart` (the process's first invocation) and, in
    Azure, `faas.name` as `<function app>/<function>` and `cloud.resource_id` (`function_resource_id`),
    span attributes there since one process serves every function of the app. Read from the
    environment, nothing imported. The invocation id is the host's: its own invocation span, the
    parent of the governor's, carries it."""
    environ = os.environ if environ is None else environ
    site = environ.get("WEBSITE_SITE_NAME")
    return {
        "faas.trigger": trigger,
        "faas.coldstart": next(_invocations) == 0,
        "faas.name": f"{site}/{function}" if site and function else None,
        "cloud.resource_id": function_resource_id(function, environ),
    }


def function_resource_id(function: str | None, environ: Mapping[str, str]) -> str | None:
    """The invoked function's Azure resource id, OpenTelemetry's `cloud.resource_id` on Azure
    Functions (docs/resource/cloud.md): the function's, not the app's, so a span attribute, in the
    convention's form `/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Web/sites/<app>`
    followed by `/functions/<function>`.
    From the variables App Service sets: the subscription is WEBSITE_OWNER_NAME up to its `+`
    (`<subscription>+<webspace>`), the group WEBSITE_RESOURCE_GROUP, the app WEBSITE_SITE_NAME. None
    unless every part is there: Flex Consumption is reported not to set WEBSITE_RESOURCE_GROUP, and
    its webspace does not name the group either, so there the attribute is left out, never guessed."""
    subscription = environ.get("WEBSITE_OWNER_NAME", "").partition("+")[0].strip()
    group = environ.get("WEBSITE_RESOURCE_GROUP", "").strip()
    site = environ.get("WEBSITE_SITE_NAME", "").strip()
    if not (subscription and group and site and function):
        return None
    app = f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Web/sites/{site}"
    return f"{app}/functions/{function}"


@contextlib.contextmanager
def invocation(function: str, trigger: str, **attributes: Any) -> Iterator[Any]:
    """The server span of a non-HTTP invocation (a timer), named after its function."""
    from governor import telemetry  # lazy: cold start (test_cold_import: loads on the first request)

    with telemetry.span(function, kind="server", **faas_attributes(function, trigger), **attributes) as span:
        yield span


def _configure_telemetry() -> None:
    """Choose the telemetry backend on the first invocation, from the settings alone (building the
    whole context would import the storage SDK even for routes without I/O). A bad setting is the
    handler's to report, so it is not raised here."""
    from governor import telemetry  # lazy: cold start (test_cold_import: loads on the first request)
    from governor.settings import load  # lazy: cold start (settings parse on the first request)

    if telemetry.configured():
        return
    with contextlib.suppress(Exception):  # the action meets the same error and maps it
        telemetry.configure(load())


def _failure(exc: Exception, instance: str) -> func.HttpResponse:
    import uuid  # lazy: cold start (uuid costs about 2 ms; only an unexpected error needs it)

    from governor.settings import SettingsError  # lazy: cold start (settings parse on the first request)

    if isinstance(exc, BadInput):
        return problem("bad-request", str(exc), instance, {"field": exc.field})
    if isinstance(exc, NotFound):
        return problem("not-found", exc.public, instance)
    if isinstance(exc, Conflict):
        return problem("conflict", exc.public, instance)
    if isinstance(exc, Unavailable):
        log.warning("%s: status=%s code=%s ms_cv=%s", type(exc).__name__, exc.status, exc.code, exc.ms_cv)
        return problem("upstream-unavailable", exc.public, instance, {"retryAfter": exc.retry_after or 30})
    if isinstance(exc, SettingsError):
        log.error("the governor is misconfigured: %s", exc)
        return problem("upstream-unavailable", "the governor is not configured", instance, {"retryAfter": 300})

    incident = uuid.uuid4().hex
    log.exception("unexpected error, incident %s", incident)
    return problem("internal-error", f"unexpected error (incident {incident})", instance)
