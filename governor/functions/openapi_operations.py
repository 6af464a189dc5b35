"""What the OpenAPI document says of each HTTP function, for `openapi_doc`: its tag, summary,
description, request and response schemas, and the refusals it answers with (reason codes of
`http.PROBLEMS`). The routes themselves come from the registered app, never from here."""

from __future__ import annotations

from dataclasses import dataclass

API_DESCRIPTION = """\
The ARR lease governor keeps Azure Remote Rendering session minutes inside per-project budgets.
Client apps request, poll, connect to, heartbeat, extend and stop sessions through this gate,
which admits a request only within the project's policy (sizes, lease, working hours,
concurrency, day and month budgets, and the caller key's own limits) and reserves its cost
atomically; a timer sweep meters ARR's elapsed time and stops, extends or warns.

**Authentication.** Every route but `health` and `openapi.json` needs a function key
(`x-functions-key`, checked by the Functions platform). The project routes also need the
project's caller key (`X-Api-Key`), or an Entra principal the project lists when App Service
authentication is on; `manage/` routes need the master key.

**Errors** are `application/problem+json` (RFC 9457) whose `type` is
`urn:arr-lease-governor:problem:<reason>`, with the figures behind the decision (`field`,
`remainingBudget`, `maxConcurrent`, ...). 429 and 503 carry `Retry-After`.

**Money** is a decimal string with six places in the project's currency (`"3.000000"`), exact
where a JSON number would round. Times are ISO 8601 in UTC with a `Z`.
"""

TAGS: list[dict[str, str]] = [
    {"name": "sessions", "description": "Request, read, connect to, heartbeat, extend and stop a project's sessions"},
    {"name": "usage", "description": "A project's spend, reservations and budgets"},
    {"name": "dashboard", "description": "HTML usage dashboards"},
    {"name": "projects", "description": "Project policies (admin: the master key)"},
    {"name": "keys", "description": "A project's named caller keys (admin: the master key)"},
    {"name": "health", "description": "Whether the governor works"},
    {"name": "docs", "description": "This document"},
]

_CLIENT = ("bad-request", "unauthorized", "forbidden", "unknown-project", "upstream-unavailable")
_SESSION = (*_CLIENT, "not-found")
_MANAGED = ("bad-request", "unknown-project", "upstream-unavailable")  # bad-request: the project name


@dataclass(frozen=True)
class Operation:
    tag: str
    summary: str
    description: str
    status: int  # of the success answer
    response: str | None = None  # schema of the success answer (None: no body)
    request: str | None = None  # schema of the request body
    body_required: bool = True
    reasons: tuple[str, ...] = ()  # refusals besides internal-error
    no_store: bool = False  # the success answer carries a secret: Cache-Control: no-store


OPERATIONS: dict[str, Operation] = {
    "request_session": Operation(
        "sessions",
        "Request a session",
        "Admits the request within the project's policy and budget, reserves the lease's cost and the ledger "
        "row in one transaction, then asks ARR to create the session. Checks, in order: the project exists "
        "and is enabled; the key; size allowed and lease within the max; working hours open; active sessions "
        "below `maxConcurrent`; the budget pays for the lease; then the caller's own limits. With working "
        "hours, a lease that would run past closing is cut to end at closing (`partial`). Send an "
        "`Idempotency-Key` to make retries safe: a repeat gets the first request's session (`replayed`); the "
        "same key with a different request (size, lease or models) is `422 idempotency-key-reused`; a repeat "
        "while the first is still in flight is `409 conflict` with `Retry-After`. Placement: the session goes "
        "to the first account of the project's `placement` (narrowed and ordered by `regions`) that has not "
        "run out of servers of its size within GOVERNOR_CAPACITY_WINDOW_MINUTES (`account` in the answer), "
        "at that account's rate; with `autoRetry` an attempt ARR ends for want of capacity is followed by the "
        "next one, behind the same session id.",
        202,
        "Session",
        "SessionRequest",
        reasons=(
            *_CLIENT,
            "outside-hours",
            "size-not-allowed",
            "idempotency-key-reused",
            "lease-too-long",
            "concurrency-limit",
            "budget-exhausted",
            "payload-too-large",
            "conflict",
        ),
    ),
    "list_sessions": Operation(
        "sessions",
        "List the project's sessions",
        "ARR's live status merged with the ledger, with the project's budget. Closed sessions only with "
        "`includeClosed=true`. A key of scope `own` sees only the sessions it started.",
        200,
        "SessionList",
        reasons=_CLIENT,
    ),
    "get_session": Operation(
        "sessions",
        "Read one session",
        "Status, host and ports once Ready, remaining lease, cost so far and remaining budget. Poll this "
        "until `status` is `Ready`: each instance reuses ARR's answer for a few seconds "
        "(`arrViewAgeSeconds` says how old it is); the ledger figures are always fresh. An attempt ARR "
        "ended for want of servers answers `error.code: capacity` and `retry.next`; with `autoRetry` the "
        "answer is the attempt that replaced it (`previousAttempts` lists the failed ones).",
        200,
        "Session",
        reasons=_SESSION,
    ),
    "heartbeat_session": Operation(
        "sessions",
        "Record activity",
        "Tells the sweep the session is in use (its idle stop waits), and answers the session with "
        "`extension`: whether one extension step would be granted now and whether to ask (`suggest`).",
        200,
        "Heartbeat",
        reasons=_SESSION,
    ),
    "connect_session": Operation(
        "sessions",
        "Connect to a Ready session",
        "What ARR's client runtime needs to open the Ready session (`RemoteRenderingClient` from a "
        "`SessionConfiguration`, then `OpenRenderingSessionAsync` and `ConnectAsync`): the account, where it "
        "authenticates and renders, the host and ports, and (unless the account's `connectAuth` is `none`) "
        "an ARR access token, valid at least the session's remaining lease plus 10 minutes when the token "
        "service allows. With `entra` the token is the connect identity's, which can read and connect to "
        "sessions but not start or stop them; `canStartSessions` is true when it was minted with the "
        "account key (`key`, development only). `sessionConfiguration` holds the same values under ARR's own "
        "names. While the session is Starting the answer is `409 not-ready` with `Retry-After`; once it is "
        "Stopped, Expired or in Error, `409 session-ended` (`sessionStatus` says which). Never cached.",
        200,
        "Connection",
        reasons=(*_SESSION, "not-ready", "session-ended"),
        no_store=True,
    ),
    "extend_session": Operation(
        "sessions",
        "Extend the lease",
        "Without a body, one extension step (ARR's elapsed minutes plus the project's `extensionStep`); "
        "with `maxLeaseTime`, that total since start. The lease never shrinks, never passes the hard cap "
        "or closing time, and the extra cost is reserved first; when the budget or closing time allows "
        "only part, the part is granted (`partial`). When ARR's answer is lost and ARR does not hold the "
        "new lease yet, it stays reserved and the answer is `503 upstream-unavailable`: ARR may still apply "
        "it, and the sweep applies it or gives it back if ARR refuses it.",
        200,
        "Session",
        "ExtendRequest",
        body_required=False,
        reasons=(*_SESSION, "extension-denied", "budget-exhausted", "payload-too-large"),
    ),
    "stop_session": Operation(
        "sessions",
        "Stop the session",
        "Stops the ARR session, charges ARR's final elapsed minutes and releases the rest of the "
        "reservation. Idempotent: stopping a closed session answers it again. A stop ends the request: no "
        "next attempt follows it (autoRetry's, or a retry with its `Idempotency-Key`).",
        200,
        "Session",
        reasons=_SESSION,
    ),
    "project_usage": Operation(
        "usage",
        "The project's usage and budget",
        "The current day and month (or the periods `day` and `month` name): budget, spent, reserved, "
        "remaining and saved, and session counts. `by=key` adds each caller key's or principal's open "
        "sessions, reservations, spend and limits.",
        200,
        "Usage",
        reasons=_CLIENT,
    ),
    "manage_put_project": Operation(
        "projects",
        "Create or replace a project",
        "The body is a project policy document (money as decimal strings or numbers, durations in whole "
        "minutes, unknown fields refused with the field named); `webhookSecret` is write-only. 201 when "
        "created, 200 when replaced; the answer is the stored document. A bad document is a 400 naming "
        "the field, and nothing is written.",
        200,
        "Project",
        "Project",
        reasons=("bad-request", "payload-too-large", "upstream-unavailable"),
    ),
    "manage_get_project": Operation(
        "projects", "Read a project", "The stored policy document (never a secret).", 200, "Project", reasons=_MANAGED
    ),
    "manage_delete_project": Operation(
        "projects", "Delete a project", "Deletes the project's policy.", 204, reasons=_MANAGED
    ),
    "manage_list_projects": Operation(
        "projects",
        "List projects",
        "Every project's policy document.",
        200,
        "ProjectList",
        reasons=("upstream-unavailable",),
    ),
    "manage_rotate_key": Operation(
        "keys",
        "Add a named caller key (or revoke all and add one)",
        "Adds a named key with an optional scope (`own`: it acts on the sessions it started; `project`: on "
        "every session), an optional expiry and its own limits (each at most the project's); a taken name is "
        'a 409. With `"revokeOthers": true`, revokes every key of the project first and adds one (named '
        "`default` unless named); any other body is a 400, so a malformed call never locks apps out. The key "
        "(`gk_<keyId>_<secret>`) is in the answer once, never again.",
        201,
        "NewKey",
        "AddKey",
        body_required=True,
        reasons=(*_MANAGED, "conflict", "payload-too-large"),
        no_store=True,
    ),
    "manage_list_keys": Operation(
        "keys",
        "List the project's caller keys",
        "Names, creation, expiry, last use (up to a minute stale) and limits; never a key or its hash.",
        200,
        "KeyList",
        reasons=_MANAGED,
    ),
    "manage_revoke_key": Operation(
        "keys",
        "Revoke one caller key",
        "The other keys keep working. Every instance refuses the revoked key from its next request on.",
        204,
        reasons=(*_MANAGED, "not-found"),
    ),
    "manage_rotate_named_key": Operation(
        "keys",
        "Rotate one caller key",
        "A new secret for the named key, with the same name, limits and expiry; the old secret stops. The "
        "key is in the answer once.",
        201,
        "NewKey",
        reasons=(*_MANAGED, "not-found"),
        no_store=True,
    ),
    "dashboard": Operation(
        "dashboard",
        "Usage dashboard of every project",
        "A self-contained HTML page (no script): spend against budget, forecast and sessions per project. "
        "`refresh` makes it reload itself.",
        200,
        "DashboardPage",
        reasons=("bad-request", "upstream-unavailable"),
    ),
    "project_dashboard": Operation(
        "dashboard",
        "Usage dashboard of the project",
        "The dashboard of one project, for its caller key.",
        200,
        "DashboardPage",
        reasons=_CLIENT,
    ),
    "health": Operation(
        "health",
        "Health of the governor",
        "Version, last sweep, and whether storage and each ARR account answer (within about 3 s). 503 "
        "when the last sweep is older than GOVERNOR_HEALTH_STALE_INTERVALS sweep intervals or a "
        "dependency does not answer.",
        200,
        "Health",
        reasons=("upstream-unavailable",),  # the governor is not configured: no report to give
        no_store=True,
    ),
    "openapi": Operation(
        "docs",
        "This OpenAPI document",
        "OpenAPI 3.1, built from the registered functions, so it lists exactly the routes the app serves.",
        200,
        "OpenApiDocument",
    ),
}
