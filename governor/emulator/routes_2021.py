"""The 2021-01-01 session API: PUT/GET/PATCH a session, POST :stop, GET the paged list."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from governor.core.model import VmSize, whole_minutes
from governor.core.policy.arr_roles import SESSIONS_READ, SESSIONS_START, SESSIONS_STOP
from governor.core.policy.limits import ARR_MAX_CREATE_LEASE, SESSION_ID
from governor.emulator.app import Emulator
from governor.emulator.errors import ApiError, bad_request, not_found
from governor.emulator.jsonbody import as_int, as_str, parse_object, require
from governor.emulator.messages import API_VERSIONS, Request, Response
from governor.emulator.render import session_2021
from governor.emulator.store import LeaseNotLarger, SessionConflict, SessionNotActive, SessionNotFound

MAX_LEASE_MINUTES = whole_minutes(ARR_MAX_CREATE_LEASE)
NO_CACHE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
NEGATIVE_LEASE = "The maxLeaseTimeMinutes value cannot be negative."


def _prepare(emu: Emulator, req: Request, action: str) -> str:
    """Authorize `action`, check api-version and the session id; return the account."""
    account = req.params["account"].lower()
    emu.authorize(account, req.header("Authorization"), action)
    version = req.query_value("api-version")
    if version is None:
        raise ApiError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    if version not in API_VERSIONS:
        raise ApiError(
            400,
            "UnsupportedApiVersion",
            f"The api-version '{version[:64]}' is not supported. Supported versions: {', '.join(API_VERSIONS)}.",
        )
    sid = req.params.get("session")
    if sid is not None and not SESSION_ID.accepts(sid):
        raise bad_request(
            "The session id may contain only letters, digits, hyphens and underscores, at most 256 characters."
        )
    return account


def _lease_minutes(body: dict) -> int:
    minutes = as_int(require(body, "maxLeaseTimeMinutes"), "maxLeaseTimeMinutes")
    if minutes < 0:
        raise bad_request(NEGATIVE_LEASE)
    return minutes


def _not_found(sid: str) -> ApiError:
    return not_found(f"The session '{sid}' does not exist.")


def put_session(emu: Emulator, req: Request) -> Response:
    account = _prepare(emu, req, SESSIONS_START)
    body = parse_object(req.body)
    minutes = _lease_minutes(body)
    if minutes > MAX_LEASE_MINUTES:
        raise bad_request(f"The maxLeaseTimeMinutes value must be between 0 and {MAX_LEASE_MINUTES}.")
    size_text = as_str(require(body, "size"), "size")
    try:
        size = VmSize.parse(size_text)
    except ValueError:
        raise bad_request(f"The size '{size_text[:64]}' is not supported. Use Standard or Premium.") from None
    sid = req.params["session"]
    version = req.query_value("api-version")
    assert version is not None  # _prepare answered 400 without one
    try:
        current, created = emu.create_session(account, sid, size, timedelta(minutes=minutes), version)
    except SessionConflict:
        raise ApiError(409, "Conflict", "A resource already exists under the given ID.") from None
    return Response.json(201 if created else 200, session_2021(current))


def get_session(emu: Emulator, req: Request) -> Response:
    account = _prepare(emu, req, SESSIONS_READ)
    sid = req.params["session"]
    try:
        current = emu.store.get(account, sid)
    except SessionNotFound:
        raise _not_found(sid) from None
    return Response.json(200, session_2021(current), dict(NO_CACHE))


def patch_session(emu: Emulator, req: Request) -> Response:
    account = _prepare(emu, req, SESSIONS_START)
    sid = req.params["session"]
    minutes = _lease_minutes(parse_object(req.body))
    try:
        current = emu.store.get(account, sid)
    except SessionNotFound:
        raise _not_found(sid) from None
    if minutes >= MAX_LEASE_MINUTES:
        raise ApiError(
            422, "UnprocessableEntity", f"The maxLeaseTimeMinutes value must be less than {MAX_LEASE_MINUTES}."
        )
    try:
        current = emu.store.update_lease(account, sid, timedelta(minutes=minutes))
    except SessionNotActive as exc:
        raise ApiError(
            422, "UnprocessableEntity", f"The session is {exc.view.status.value} and can no longer be updated."
        ) from None
    except LeaseNotLarger as exc:
        current_minutes = whole_minutes(exc.current)
        raise ApiError(
            422,
            "UnprocessableEntity",
            f"The maxLeaseTimeMinutes value must be larger than the current value ({current_minutes}).",
        ) from None
    except SessionNotFound:
        raise _not_found(sid) from None
    return Response.json(200, session_2021(current))


def stop_session(emu: Emulator, req: Request) -> Response:
    account = _prepare(emu, req, SESSIONS_STOP)
    sid = req.params["session"]
    try:
        emu.store.stop(account, sid)
    except SessionNotFound:
        raise _not_found(sid) from None
    return Response(204)


def list_sessions(emu: Emulator, req: Request) -> Response:
    account = _prepare(emu, req, SESSIONS_READ)
    token = req.query_value("$skipToken")
    after = 0
    if token is not None:
        if not (token.isascii() and token.isdigit()) or len(token) > 18:
            raise bad_request("The $skipToken query parameter is not valid.")
        after = int(token)
    page, next_after = emu.store.list_active(account, after, emu.page_size)
    body: dict = {"sessions": [session_2021(v) for v in page]}
    if next_after is not None:
        query = urlencode({"api-version": req.query_value("api-version"), "$skipToken": str(next_after)})
        body["@nextLink"] = f"{req.base_url}/accounts/{account}/sessions?{query}"
    return Response.json(200, body, dict(NO_CACHE))


ROUTES = [
    ("/accounts/{account}/sessions", "2021", {"GET": list_sessions}),
    (
        "/accounts/{account}/sessions/{session}",
        "2021",
        {"PUT": put_session, "GET": get_session, "PATCH": patch_session},
    ),
    ("/accounts/{account}/sessions/{session}/:stop", "2021", {"POST": stop_session}),
]
